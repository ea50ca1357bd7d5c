"""Announces committed job events: to WebSocket subscribers through Litestar channels (those
of the other API instances too, with a shared job table), and, for changes of status, to the
log and the job metrics. Every transition passes here once, in the instance that made it."""

import logging

import msgspec
from litestar.channels import ChannelsPlugin

from services.api.jobs.lifecycle import Transition
from services.api.jobs.views import event_view
from services.api.metrics.instruments import RENDER_DURATION
from services.api.progress.fanout import ClusterFanout
from services.api.settings import Settings

log = logging.getLogger(__name__)


def job_channel(job_id: str) -> str:
    return f"job:{job_id}"


def video_channel(video_id: str) -> str:
    return f"video:{video_id}"


class EventPublisher:
    def __init__(self, channels: ChannelsPlugin, settings: Settings, fanout: ClusterFanout | None = None) -> None:
        self._channels = channels
        self._settings = settings
        self._fanout = fanout
        self._encoder = msgspec.json.Encoder()

    def publish(self, transition: Transition) -> None:
        """Encodes the event once for every subscriber of its job and of its video."""
        event = transition.event
        data = self._encoder.encode(event_view(event, self._settings))
        channels = [job_channel(event.job_id), video_channel(event.video_id)]
        self._channels.publish(data, channels)
        if self._fanout is not None:
            self._fanout.send(event.job_id, channels, data)
        if transition.status_changed:
            _record_status_change(transition)


def _record_status_change(transition: Transition) -> None:
    job = transition.job
    log.info(
        "job %s: %s",
        job.status,
        transition.event.message,
        extra={"job_id": job.job_id, "video_id": job.video_id, "attempt": job.attempt, "worker_id": job.worker_id},
    )
    if job.status.is_terminal and job.started_at is not None and job.finished_at is not None:
        RENDER_DURATION.labels(job.status).observe((job.finished_at - job.started_at).total_seconds())

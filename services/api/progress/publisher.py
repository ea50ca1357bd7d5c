"""Announces committed job events to WebSocket subscribers through Litestar channels."""

import msgspec
from litestar.channels import ChannelsPlugin

from services.api.jobs.store import Transition
from services.api.jobs.views import event_view
from services.api.settings import Settings


def job_channel(job_id: str) -> str:
    return f"job:{job_id}"


def video_channel(video_id: str) -> str:
    return f"video:{video_id}"


class EventPublisher:
    def __init__(self, channels: ChannelsPlugin, settings: Settings) -> None:
        self._channels = channels
        self._settings = settings
        self._encoder = msgspec.json.Encoder()

    def publish(self, transition: Transition | None) -> None:
        """Encodes the event once for every subscriber of its job and of its video."""
        if transition is None:
            return
        event = transition.event
        data = self._encoder.encode(event_view(event, self._settings))
        self._channels.publish(data, [job_channel(event.job_id), video_channel(event.video_id)])

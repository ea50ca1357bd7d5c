"""Writes one outbox row per configured URL for a job that has just ended, inside the
transaction that ends it: the event is stored exactly when the state change is."""

from uuid import uuid4

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.db.models import JobRow, WebhookDeliveryRow, utc_now
from services.api.jobs.views import job_view
from services.api.settings import Settings
from services.api.timestamps import iso_utc

PENDING, DELIVERED, DEAD = "PENDING", "DELIVERED", "DEAD"


class WebhookEvent(msgspec.Struct, kw_only=True):
    """The body every receiver gets (Standard Webhooks' type/timestamp/data envelope)."""

    type: str
    """`render_job.succeeded`, `render_job.failed` or `render_job.canceled`."""
    timestamp: str
    data: dict


def event_type(status: str) -> str:
    return f"render_job.{status.lower()}"


class WebhookOutbox:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._encoder = msgspec.json.Encoder()

    def enqueue(self, session: AsyncSession, job: JobRow) -> None:
        """Adds the job's terminal event for every WEBHOOK_URLS entry to `session`."""
        if not self._settings.webhook_urls:
            return
        now = utc_now()
        event = WebhookEvent(
            type=event_type(job.status),
            timestamp=iso_utc(now),
            data=msgspec.to_builtins(job_view(job, self._settings)),
        )
        payload = self._encoder.encode(event)
        for url in self._settings.webhook_urls:
            session.add(
                WebhookDeliveryRow(
                    webhook_id=f"msg_{uuid4().hex}",
                    job_id=job.job_id,
                    url=url,
                    event_type=event.type,
                    payload=payload,
                    status=PENDING,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                )
            )

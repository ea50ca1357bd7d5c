"""The delivery loop: POSTs due outbox rows, signed, and records each try. A row stays
PENDING, and so is picked up again after an API restart, until a 2xx or its 24 h run out."""

import asyncio
import logging
import time
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from services.api.db.engine import Database
from services.api.db.models import WebhookDeliveryRow, utc_now
from services.api.metrics.instruments import WEBHOOK_DELIVERIES
from services.api.webhooks.backoff import next_attempt_at
from services.api.webhooks.outbox import DEAD, DELIVERED, PENDING
from services.api.webhooks.signing import signature

log = logging.getLogger(__name__)

POLL_SEC = 0.5
BATCH = 32
"""Rows tried at once; their POSTs run concurrently."""
REQUEST_TIMEOUT_SEC = 10.0
CLAIM_LEASE_SEC = 3 * REQUEST_TIMEOUT_SEC
"""How long a claimed row is left to the instance trying it: well past one try's timeout."""


class WebhookSender:
    def __init__(self, db: Database, key: bytes, retry_base_sec: float) -> None:
        self._db = db
        self._key = key
        self._retry_base_sec = retry_base_sec
        # No redirects followed: a 3xx is not a delivery.
        self._client = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SEC, headers={"user-agent": "slidereel-webhooks"})

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.deliver_due()
                except Exception:
                    # A database hiccup must not end deliveries for good; the rows wait.
                    log.exception("webhook delivery round failed; trying again")
                await asyncio.sleep(POLL_SEC)
        finally:
            await self._client.aclose()

    async def deliver_due(self) -> None:
        due = await self._claim_due()
        if not due:
            return
        errors = await asyncio.gather(*(self._post(row) for row in due))
        async with self._db.write_session() as session, session.begin():
            for row, error in zip(due, errors):
                await session.execute(
                    update(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == row.webhook_id)
                    .values(**self._outcome(row, error))
                )

    async def _claim_due(self) -> list[WebhookDeliveryRow]:
        """The due rows, each leased to this round: their next try moves `CLAIM_LEASE_SEC` ahead,
        so another API instance (or this one's next round) passes over them until this try's
        outcome is written, or until the lease runs out because this instance died mid-try."""
        due_now = (WebhookDeliveryRow.status == PENDING, WebhookDeliveryRow.next_attempt_at <= utc_now())
        # A cheap read first: most rounds find nothing and need no write transaction.
        async with self._db.read_session() as session:
            if await session.scalar(select(WebhookDeliveryRow.webhook_id).where(*due_now).limit(1)) is None:
                return []
        async with self._db.write_session() as session, session.begin():
            due = list(await session.scalars(
                select(WebhookDeliveryRow).where(*due_now)
                .order_by(WebhookDeliveryRow.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)  # PostgreSQL: rows another instance is claiming
            ))
            if due:
                await session.execute(
                    update(WebhookDeliveryRow)
                    .where(WebhookDeliveryRow.webhook_id.in_([row.webhook_id for row in due]))
                    .values(next_attempt_at=utc_now() + timedelta(seconds=CLAIM_LEASE_SEC))
                    .execution_options(synchronize_session=False)
                )
        return due

    async def _post(self, row: WebhookDeliveryRow) -> str | None:
        """None when the receiver answered 2xx, else what went wrong."""
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": row.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._key, row.webhook_id, timestamp, row.payload),
        }
        try:
            response = await self._client.post(row.url, content=row.payload, headers=headers)
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        return None if response.is_success else f"HTTP {response.status_code}"

    def _outcome(self, row: WebhookDeliveryRow, error: str | None) -> dict[str, object]:
        now = utc_now()
        attempts = row.attempts + 1
        context = {"job_id": row.job_id, "webhook_id": row.webhook_id}
        if error is None:
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            log.info("webhook %s delivered to %s", row.event_type, row.url, extra=context)
            return {"status": DELIVERED, "attempts": attempts, "last_attempt_at": now, "last_error": None}
        retry_at = next_attempt_at(row.created_at, attempts, now, self._retry_base_sec)
        if retry_at is None:
            WEBHOOK_DELIVERIES.labels("dead").inc()
            log.error("webhook %s to %s given up after %d tries: %s", row.event_type, row.url, attempts, error, extra=context)
            return {"status": DEAD, "attempts": attempts, "last_attempt_at": now, "last_error": error}
        WEBHOOK_DELIVERIES.labels("failed").inc()
        log.warning("webhook %s to %s failed (%s); retrying at %s", row.event_type, row.url, error, retry_at, extra=context)
        return {"attempts": attempts, "last_attempt_at": now, "last_error": error, "next_attempt_at": retry_at}

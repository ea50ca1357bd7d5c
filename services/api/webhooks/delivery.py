"""The delivery loop: POSTs due outbox rows, signed, and records each try. A row stays
PENDING, and so is picked up again after an API restart, until a 2xx or its 24 h run out.

Each try is leased (db/leases.py) to the API instance making it, so another instance passes
the row over meanwhile; the try's outcome is written only while the lease is still this
instance's, and an instance that died mid-try leaves a lease that runs out, after which any
instance tries the row again."""

import asyncio
import logging
import os
import socket
import time
from datetime import timedelta
from uuid import uuid4

import httpx
from sqlalchemy import and_

from services.api.db.engine import Database
from services.api.db.leases import LeasedQueue
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

DELIVERIES = LeasedQueue(
    entity=WebhookDeliveryRow,
    key=(WebhookDeliveryRow.webhook_id,),
    owner=WebhookDeliveryRow.lease_owner,
    lease_until=WebhookDeliveryRow.lease_until,
    due=lambda now: and_(WebhookDeliveryRow.status == PENDING, WebhookDeliveryRow.next_attempt_at <= now),
    order=(WebhookDeliveryRow.next_attempt_at,),
)


class WebhookSender:
    def __init__(self, db: Database, key: bytes, retry_base_sec: float) -> None:
        self._db = db
        self._key = key
        self._retry_base_sec = retry_base_sec
        # Unique per process (a restarted one must not settle its predecessor's tries), and
        # telling operators which host and process holds a row.
        self._owner = f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid4().hex[:12]}"
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
                outcome = self._outcome(row, error)
                if await DELIVERIES.settle(session, DELIVERIES.key_of(row), self._owner, outcome):
                    self._report(row, error, outcome)
                else:
                    log.warning(
                        "webhook %s to %s: its lease ran out and another instance took it over; this try's outcome is dropped",
                        row.event_type,
                        row.url,
                        extra={"job_id": row.job_id, "webhook_id": row.webhook_id},
                    )

    async def _claim_due(self) -> list[WebhookDeliveryRow]:
        """The due rows nobody is trying, each leased to this instance for `CLAIM_LEASE_SEC`."""
        async with self._db.read_session() as session:
            if not await DELIVERIES.has_claimable(session):
                return []
        async with self._db.write_session() as session, session.begin():
            return await DELIVERIES.claim(session, self._owner, utc_now() + timedelta(seconds=CLAIM_LEASE_SEC), limit=BATCH)

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
        """The row's values after this try."""
        now = utc_now()
        attempts = row.attempts + 1
        if error is None:
            return {"status": DELIVERED, "attempts": attempts, "last_attempt_at": now, "last_error": None}
        retry_at = next_attempt_at(row.created_at, attempts, now, self._retry_base_sec)
        if retry_at is None:
            return {"status": DEAD, "attempts": attempts, "last_attempt_at": now, "last_error": error}
        return {"attempts": attempts, "last_attempt_at": now, "last_error": error, "next_attempt_at": retry_at}

    @staticmethod
    def _report(row: WebhookDeliveryRow, error: str | None, outcome: dict[str, object]) -> None:
        """Counts and logs a try whose outcome was written."""
        context = {"job_id": row.job_id, "webhook_id": row.webhook_id}
        if error is None:
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            log.info("webhook %s delivered to %s", row.event_type, row.url, extra=context)
        elif outcome.get("status") == DEAD:
            WEBHOOK_DELIVERIES.labels("dead").inc()
            log.error(
                "webhook %s to %s given up after %d tries: %s", row.event_type, row.url, outcome["attempts"], error, extra=context
            )
        else:
            WEBHOOK_DELIVERIES.labels("failed").inc()
            log.warning(
                "webhook %s to %s failed (%s); retrying at %s",
                row.event_type,
                row.url,
                error,
                outcome["next_attempt_at"],
                extra=context,
            )

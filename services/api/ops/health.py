"""`/healthz` says the process is alive; `/readyz` that it can take work (SPEC §2)."""

import msgspec
from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text

from libs.storage import AssetStore, StorageError
from services.api.db.engine import Database
from services.api.dispatch.role import DispatcherRole


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    database: bool
    store: bool
    """The asset store answers (the local folder is writable, or the S3 bucket lists)."""
    renderers: int
    """Renderer workers connected to the dispatcher (this instance or another, DESIGN §8)."""
    dispatcher: bool
    """Whether this instance is the one that dispatches."""
    bus_rejected: dict[str, int]
    """Bus messages logged and ignored since start, by reason."""
    waiting_for_engine: dict[str, int]
    """PENDING jobs whose TTS engine no connected renderer offers, by engine."""


class HealthController(Controller):
    tags = ["operations"]

    @get("/healthz", operation_id="healthz")
    async def healthz(self) -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @get(
        "/readyz",
        operation_id="readyz",
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                data_container=Readiness, description="No database, no asset store or no renderer"
            ),
        },
    )
    async def readyz(self, db: Database, dispatcher: DispatcherRole, store: AssetStore) -> Response[Readiness]:
        """The database and the asset store answer, and at least one renderer worker is connected."""
        try:
            async with db.reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
            database_ok = True
        except Exception:  # noqa: BLE001 - whatever keeps the database from answering, it is not ready
            database_ok = False
        try:
            await store.check()
            store_ok = True
        except StorageError:
            store_ok = False
        pool = await dispatcher.status()
        ready = database_ok and store_ok and pool.renderers > 0
        body = Readiness(
            status="ready" if ready else "not ready",
            database=database_ok,
            store=store_ok,
            renderers=pool.renderers,
            dispatcher=pool.dispatcher,
            bus_rejected=pool.bus_rejected,
            waiting_for_engine=pool.waiting_for_engine,
        )
        return Response(body, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)

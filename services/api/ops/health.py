"""`/healthz` says the process is alive; `/readyz` that it can take work (SPEC §2)."""

from litestar import Controller, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text

from services.api.db.engine import Database
from services.api.dispatch.broker import RenderBroker


class HealthController(Controller):
    tags = ["operations"]

    @get("/healthz", operation_id="healthz")
    async def healthz(self) -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @get("/readyz", operation_id="readyz")
    async def readyz(self, db: Database, broker: RenderBroker) -> Response[dict[str, object]]:
        """The database answers and at least one renderer worker is connected."""
        try:
            async with db.reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
            database_ok = True
        except Exception:
            database_ok = False
        workers = broker.connected_workers
        ready = database_ok and workers > 0
        body = {"status": "ready" if ready else "not ready", "database": database_ok, "renderers": workers,
                "bus_rejected": dict(broker.rejected)}
        return Response(body, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)

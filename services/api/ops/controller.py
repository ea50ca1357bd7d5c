"""Operations an admin may run by hand (SPEC §4: admin = + operations)."""

from litestar import Controller, post
from litestar.status_codes import HTTP_200_OK

from libs.storage import AssetStore, StorageError
from services.api.auth.roles import Role, requires
from services.api.db.engine import Database
from services.api.errors import AssetStoreUnavailable
from services.api.openapi import error_responses
from services.api.ops.retention import SweepReport, sweep
from services.api.settings import Settings


class OperationsController(Controller):
    path = "/ops"
    tags = ["operations"]
    guards = [requires(Role.ADMIN)]

    @post("/ttl-sweep", operation_id="runTtlSweep", status_code=HTTP_200_OK, responses=error_responses(401, 403, 503))
    async def run_ttl_sweep(self, db: Database, settings: Settings, store: AssetStore) -> SweepReport:
        """Delete FAILED/CANCELED jobs older than RENDER_JOB_TTL_DAYS with their files now,
        instead of waiting for the periodic sweep."""
        try:
            return await sweep(db, settings, store)
        except StorageError as error:
            raise AssetStoreUnavailable(str(error)) from error

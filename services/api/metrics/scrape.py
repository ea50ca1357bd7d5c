"""`GET /metrics`: Litestar's Prometheus controller, with the gauges that describe the job
table and the worker pool brought up to date first."""

from litestar import Response, get
from litestar.plugins.prometheus import PrometheusController
from sqlalchemy import func, select

from libs.contracts.codes import JobStatus
from services.api.db.engine import Database
from services.api.db.models import JobRow
from services.api.dispatch.role import DispatcherRole
from services.api.metrics.instruments import JOBS, QUEUE_DEPTH, RENDERS_IN_FLIGHT, WORKERS_ALIVE


async def refresh_gauges(db: Database, dispatcher: DispatcherRole) -> None:
    async with db.read_session() as session:
        counts = dict((await session.execute(select(JobRow.status, func.count()).group_by(JobRow.status))).all())
    for status in JobStatus:
        JOBS.labels(status.value).set(counts.get(status, 0))
    QUEUE_DEPTH.set(counts.get(JobStatus.PENDING, 0))
    RENDERS_IN_FLIGHT.set(counts.get(JobStatus.RUNNING, 0))
    WORKERS_ALIVE.set((await dispatcher.status()).renderers)


class MetricsController(PrometheusController):
    @get(include_in_schema=False)
    async def get(self, db: Database, dispatcher: DispatcherRole) -> Response:
        """Prometheus text exposition."""
        await refresh_gauges(db, dispatcher)
        return await PrometheusController.get.fn(self)

"""Request counts and latencies through Litestar's Prometheus plugin, with a leaner middleware.

Litestar's own middleware builds a Request, label dicts and four label lookups, and keeps an
in-progress gauge, on every request: on a trivial route that more than doubled the cost of a
request here. This one keeps the plugin's metric names and labels but caches the labelled
children per (method, route template, status), so a request costs a dict lookup, a counter
increment and a histogram observation.
"""

import time
from typing import Any, ClassVar, cast

from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import HTTPScope, Message, Receive, Scope, Send

APP_NAME = "slidereel"


class CachedLabelsPrometheusMiddleware(PrometheusMiddleware):
    # Per process, like the metrics themselves (Litestar keeps those in a class variable too).
    _children: ClassVar[dict[tuple[str, str, int], tuple[Any, Any, Any]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = HTTP_500_INTERNAL_SERVER_ERROR  # what the client sees if the app raises before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # HTTP scopes only (http_metrics: scopes={ScopeType.HTTP}).
            count, duration, errors = self._labelled(cast(HTTPScope, scope)["method"], scope["path_template"], status)
            count.inc()
            duration.observe(time.perf_counter() - started)
            if errors is not None:
                errors.inc()

    def _labelled(self, method: str, path: str, status: int) -> tuple[Any, Any, Any]:
        key = (method, path, status)
        children = self._children.get(key)
        if children is None:
            # Label names and order as Litestar's middleware has them, so dashboards built for it work.
            labels: dict[str, str | int | float] = {"method": method, "path": path, "status_code": status, "app_name": APP_NAME}
            values = list(labels.values())
            errors = self.requests_error_count(labels).labels(*values) if status >= HTTP_500_INTERNAL_SERVER_ERROR else None
            children = (self.request_count(labels).labels(*values), self.request_time(labels).labels(*values), errors)
            self._children[key] = children
        return children


def http_metrics() -> PrometheusConfig:
    """Per route template, not per URL (ids would explode the label space); WebSockets are
    counted by their own gauge instead."""
    return PrometheusConfig(
        app_name=APP_NAME,
        prefix="slidereel_http",
        group_path=True,
        scopes={ScopeType.HTTP},
        middleware_class=CachedLabelsPrometheusMiddleware,
    )

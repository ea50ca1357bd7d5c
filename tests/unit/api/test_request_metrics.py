"""The cached-labels request middleware counts per route template and status, errors included."""

from typing import Annotated

from litestar import Litestar, get
from litestar.params import Parameter
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from services.api.metrics.requests import http_metrics


@get("/things/{thing_id:str}")
async def thing(thing_id: Annotated[str, Parameter()]) -> dict[str, str]:
    if thing_id == "broken":
        raise RuntimeError("boom")
    return {"id": thing_id}


def sample(name: str, **labels: str) -> float:
    return (
        REGISTRY.get_sample_value(name, {"app_name": "slidereel", "method": "GET", "path": "/things/{thing_id}", **labels}) or 0.0
    )


def test_requests_are_counted_per_route_template_and_status():
    app = Litestar([thing], middleware=[http_metrics().middleware], logging_config=None)
    ok_before, error_before = (
        sample("slidereel_http_requests_total", status_code="200"),
        sample("slidereel_http_requests_total", status_code="500"),
    )
    with TestClient(app) as client:
        for thing_id in ("a", "b", "c"):
            assert client.get(f"/things/{thing_id}").status_code == 200
        assert client.get("/things/broken").status_code == 500
    assert sample("slidereel_http_requests_total", status_code="200") - ok_before == 3
    assert sample("slidereel_http_requests_total", status_code="500") - error_before == 1
    assert sample("slidereel_http_requests_error_total", status_code="500") >= 1
    assert sample("slidereel_http_request_duration_seconds_count", status_code="200") >= 3

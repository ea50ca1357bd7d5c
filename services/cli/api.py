"""The HTTP side of the command: one client per run that turns every API error, and every
failure to reach the API, into a `CliError` with the exit code scripts rely on."""

from typing import Any
from urllib.parse import quote

import httpx

from services.cli.errors import CliError, ExitCode, exit_code_for_status


class Api:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    @property
    def ws_base_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={name: value for name, value in params.items() if value is not None})

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, json=body)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json=body)

    def call(self, method: str, path: str, **request: Any) -> Any:
        try:
            response = self._http.request(method, path, **request)
        except httpx.TransportError as error:
            raise CliError(ExitCode.UNAVAILABLE, "SERVICE_UNREACHABLE", f"cannot reach {self.base_url}: {error}") from error
        if response.is_success:
            return response.json()
        raise api_error(response)

    def is_ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False


def video_path(video_id: str, *rest: str) -> str:
    """`/api/v2/videos/{video_id}/…` with each segment escaped, so an odd id cannot change the route."""
    return "/".join(["/api/v2/videos", *(quote(segment, safe="") for segment in (video_id, *rest))])


def api_error(response: httpx.Response) -> CliError:
    """SPEC §2's error body when the API sent one; otherwise (a proxy's error page) the status line."""
    try:
        body = response.json()
        error_code, message, detail = body["error_code"], body["message"], body.get("detail") or {}
    except (ValueError, KeyError, TypeError):
        error_code, message, detail = (
            f"HTTP_{response.status_code}",
            f"{response.request.method} {response.request.url} answered {response.status_code} {response.reason_phrase}",
            {},
        )
    return CliError(exit_code_for_status(response.status_code), error_code, message, detail)

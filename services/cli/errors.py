"""Exit codes the `slidereel` command promises to scripts, and the one error type that carries them."""

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    JOB_NOT_SUCCEEDED = 1
    """A followed job ended FAILED or CANCELED."""
    BAD_INPUT = 2
    """Wrong arguments, an unreadable script file, or a request the API refused (400/409/413/422)."""
    AUTH = 3
    """No token, or the API refused it (401/403)."""
    NOT_FOUND = 4
    """The video, script, job or published assets do not exist (404)."""
    UNAVAILABLE = 5
    """The API is unreachable, failed (5xx) or asks to slow down (429): retrying later may work."""


EXIT_CODES_HELP = """exit codes:
  0  success (with --follow: the job SUCCEEDED)
  1  the followed job ended FAILED or CANCELED
  2  usage error, unreadable script file, or a request the API refused (400/409/413/422)
  3  no token, or the API refused it (401/403)
  4  not found (404), or a video with no published assets
  5  API unreachable, server error (5xx) or rate limited (429): retry later"""


class CliError(Exception):
    """A failure reported as SPEC §2's error shape on stderr, ending the command with `exit_code`."""

    def __init__(self, exit_code: ExitCode, error_code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.error_code = error_code
        self.message = message
        self.detail = detail or {}

    def as_dict(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message, "detail": self.detail}


def exit_code_for_status(status_code: int) -> ExitCode:
    if status_code in (401, 403):
        return ExitCode.AUTH
    if status_code == 404:
        return ExitCode.NOT_FOUND
    if status_code == 429 or status_code >= 500:
        return ExitCode.UNAVAILABLE
    return ExitCode.BAD_INPUT

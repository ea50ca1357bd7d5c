"""One error shape for every failure (SPEC §2): {"error_code", "message", "detail"}."""

import logging
import re
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from libs.contracts.codes import ErrorCode
from services.api.errors import ApplicationError
from services.api.uploads import BODY_LIMIT, too_large

log = logging.getLogger(__name__)

CODES_BY_STATUS = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
}
# msgspec ends a validation message with the failing location, e.g. "- at `$.scenes[0].narration`";
# a missing or unknown field is named in the message itself, at the location of its object.
FIELD_PATH = re.compile(r" - at `([^`]*)`$")
NAMED_FIELD = re.compile(r"^Object (?:missing required|contains unknown) field `([^`]*)`")


class ErrorBody(msgspec.Struct, kw_only=True):
    """The shape: every error response's body, declared as such in the OpenAPI document
    (openapi.py), and extended by the WebSocket's error frame (progress/messages.py)."""

    error_code: str
    message: str
    detail: dict[str, Any]


def error_response(
    status_code: int,
    error_code: ErrorCode | str,
    message: str,
    detail: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    # An ErrorCode is a str enum: msgspec writes its value.
    body = ErrorBody(error_code=error_code, message=message, detail=detail or {})
    return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=headers)


def application_error_handler(_: Request, error: ApplicationError) -> Response:
    return error_response(error.status_code, error.error_code, error.message, error.detail)


def validation_error_handler(_: Request, error: ValidationException) -> Response:
    """Bad bodies and parameters become 422 naming the field, whatever Litestar's default is."""
    problems = [_describe(item) for item in (error.extra or [])] or [{"message": error.detail}]
    first = problems[0]
    message = f"{first['field']}: {first['message']}" if first.get("field") else first["message"]
    return error_response(HTTP_422_UNPROCESSABLE_ENTITY, ErrorCode.VALIDATION_ERROR, message, {"errors": problems})


def http_error_handler(request: Request, error: HTTPException) -> Response:
    limit = request.route_handler.opt.get(BODY_LIMIT) if error.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE else None
    if limit is not None:  # an upload past its router's limit: name the setting, as the handler would
        announced = request.headers.get("content-length", "")
        return application_error_handler(request, too_large(int(announced) if announced.isdigit() else None, limit))
    # A body that is not even JSON is a validation error too: SPEC §2 has one code for it, 422.
    status = HTTP_422_UNPROCESSABLE_ENTITY if error.status_code == HTTP_400_BAD_REQUEST else error.status_code
    code = CODES_BY_STATUS.get(status, "HTTP_ERROR")
    return error_response(status, code, error.detail, headers=error.headers)


def internal_error_handler(request: Request, error: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, ErrorCode.INTERNAL_ERROR, "Internal server error")


def _describe(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"message": str(item)}
    message = str(item.get("message", ""))
    match = FIELD_PATH.search(message)
    if match:
        return {"field": match.group(1), "message": message[: match.start()], "source": item.get("source", "body")}
    named = NAMED_FIELD.match(message)
    if named and item.get("key") == "data":
        return {"field": named.group(1), "message": message, "source": "body"}
    return {"field": item.get("key"), "message": message, "source": item.get("source")}


EXCEPTION_HANDLERS = {
    ApplicationError: application_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}

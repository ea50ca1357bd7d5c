"""The error responses each route declares in the OpenAPI document (SPEC §2's one shape)."""

from typing import Any

import msgspec
from litestar.openapi import ResponseSpec


class ErrorBody(msgspec.Struct, kw_only=True):
    error_code: str
    message: str
    detail: dict[str, Any]


DESCRIPTIONS = {
    401: "Missing, expired or invalid bearer token (UNAUTHORIZED)",
    403: "The token's role is not enough, or an asset signature is missing or expired (FORBIDDEN)",
    404: "Unknown script, job, asset, media or theme",
    409: "The request conflicts with the resource's state (e.g. SCRIPT_NOT_APPROVED)",
    413: "Request body larger than 1 MiB, or an upload larger than MEDIA_MAX_BYTES (PAYLOAD_TOO_LARGE)",
    415: "The upload's bytes are not an allowed format, whatever its name says (UNSUPPORTED_MEDIA_TYPE)",
    416: "Range not satisfiable",
    422: "A parameter or body field is invalid (VALIDATION_ERROR, naming the field); an image too large "
    "in pixels (MEDIA_TOO_LARGE) or not decodable whole (MEDIA_INVALID)",
    429: "Too many writes by this subject (RATE_LIMITED, see Retry-After)",
    503: "The asset store did not answer (STORAGE_FAILED); try again later",
}


def error_responses(*status_codes: int) -> dict[int, ResponseSpec]:
    return {code: ResponseSpec(data_container=ErrorBody, description=DESCRIPTIONS[code]) for code in status_codes}


READ_ERRORS = error_responses(401, 403, 404, 422)
WRITE_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 429)
ASSET_ERRORS = error_responses(403, 404, 416, 422, 503)

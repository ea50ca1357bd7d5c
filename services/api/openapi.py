"""The OpenAPI document's parts Litestar does not derive from the routes (SPEC §8.4): the error
responses each route declares (SPEC §2's one shape), and the WebSocket's messages."""

from typing import cast

import msgspec
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPI, Operation, Schema, SecurityScheme

from services.api.http_errors import ErrorBody
from services.api.jobs.schemas import JobEvent
from services.api.progress.messages import StreamConnected, StreamError

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


WEBSOCKET_MESSAGES = (StreamConnected, JobEvent, StreamError)
"""What `WS /ws/videos/{video_id}/render-progress` sends (SPEC §3): `connected`, then `snapshot`
and `progress` job events, or `error` before it closes. OpenAPI has no WebSocket operations, so
these are component schemas only, for clients to type the stream by."""
VALIDATION_STATUS = "400"


def finish_document(document: OpenAPI) -> None:
    """What the generated document lacks or gets wrong, mended in place before it is served.

    Litestar declares a 400 in its own shape for every route with parameters (its
    ValidationException); this API answers a bad parameter or body with a 422 in SPEC §2's
    shape instead (http_errors.py), which each route declares, so the 400 is dropped. Its JWT
    scheme names the header, which OpenAPI 3.1 allows only for an apiKey scheme (an http
    bearer scheme is always the Authorization header): validators refuse the document."""
    for scheme in (document.components.security_schemes or {}).values():
        if isinstance(scheme, SecurityScheme) and scheme.type == "http":
            scheme.name = None
    for path_item in (document.paths or {}).values():
        for operation in vars(path_item).values():
            if isinstance(operation, Operation) and operation.responses:
                operation.responses.pop(VALIDATION_STATUS, None)
    _, schemas = msgspec.json.schema_components(WEBSOCKET_MESSAGES, ref_template="#/components/schemas/{name}")
    for name, schema in schemas.items():
        # Shared types (JobStatus, AssetLinks) are Litestar's already. The rest go in as the
        # JSON Schema msgspec writes, which is what the document serialises them to anyway.
        document.components.schemas.setdefault(name, cast(Schema, schema))

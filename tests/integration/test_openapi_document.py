"""The OpenAPI document a real API serves is one clients can be generated from (SPEC §8.4): valid
OpenAPI 3.1 by openapi-spec-validator, every operation named, summarised and declaring its
errors in SPEC §2's shape, request fields with defaults optional, an example for each main body
that the API accepts, and the WebSocket's messages as schemas the messages on the wire match."""

import json
import re

import msgspec
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from websockets.sync.client import connect

from libs.contracts.script import Script
from libs.contracts.theme import Theme
from services.api.jobs.schemas import CreateRenderJob
from services.api.lexicon.schemas import LexiconBody
from services.api.scripts.schemas import ScenePreviewBody
from services.api.voices.schemas import VoicePreviewBody
from tests.client import new_video_id

METHODS = ("get", "put", "post", "delete", "patch", "head")
HEALTH_PROBES = {"/healthz", "/readyz"}
"""Their bodies are the probe's own (SPEC §2), 503 included."""
OPERATION_ID = re.compile(r"^[a-z][A-Za-z]+$")
"""camelCase words, as a generator turns into method names; Litestar's own are path-derived."""
BODIES_WITH_EXAMPLES = {"createScript", "putScript", "createRenderJob", "putTheme", "putLexicon", "previewVoice", "previewScene"}
REQUEST_TYPES = (Script, Theme, CreateRenderJob, LexiconBody, VoicePreviewBody, ScenePreviewBody)


@pytest.fixture(scope="module")
def document(stack) -> dict:
    with stack.client() as http:
        served = http.get("/schema/openapi.json")
    served.raise_for_status()
    return served.json()


def operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def mismatches(document: dict, schema: dict, value) -> list[str]:
    """Why `value` does not match `schema` (nothing: it does), with the document's components
    beside it so that its references resolve."""
    rooted = {**schema, "components": document["components"]}
    return [error.message for error in Draft202012Validator(rooted).iter_errors(value)]


def component(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_operation_has_a_unique_camel_case_id_and_a_summary(document):
    found = operations(document)
    ids = [operation.get("operationId", "") for _, _, operation in found]
    assert len(found) > 30
    assert [(method, path) for (method, path, _), name in zip(found, ids) if not OPERATION_ID.match(name)] == []
    assert len(set(ids)) == len(ids)
    assert [name for (_, _, operation), name in zip(found, ids) if not operation.get("summary")] == []


def test_every_error_response_is_in_the_one_error_shape_and_none_is_a_400(document):
    for method, path, operation in operations(document):
        errors = {code: response for code, response in operation["responses"].items() if code[0] in "45"}
        assert "400" not in errors, f"{method} {path}: the API answers a bad request with 422"
        for code, response in errors.items():
            if path not in HEALTH_PROBES:
                assert response["content"]["application/json"]["schema"] == component("ErrorBody"), f"{method} {path} {code}"
        if operation.get("security") != [{}] and "security" in operation:
            assert {"401", "403"} <= errors.keys(), f"{method} {path} needs a token, so it can answer 401 and 403"


def test_request_fields_with_defaults_are_optional(document):
    _, expected = msgspec.json.schema_components(REQUEST_TYPES)
    for name, schema in expected.items():
        if schema.get("type") == "object":
            served = document["components"]["schemas"][name]
            assert set(served.get("required", [])) == set(schema.get("required", [])), name


def test_each_main_body_has_an_example_that_matches_its_schema(document):
    examples = {}
    for method, path, operation in operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        for example in body["schema"].get("examples", []):
            assert mismatches(document, body["schema"], example) == [], f"{method} {path}"
            examples[operation["operationId"]] = example
    assert examples.keys() >= BODIES_WITH_EXAMPLES


def test_the_examples_are_requests_the_api_accepts(stack, document):
    body = {
        operation["operationId"]: operation["requestBody"]["content"]["application/json"]["schema"]["examples"][0]
        for _, _, operation in operations(document)
        if "examples" in operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    }
    video_id = new_video_id("examples")
    with stack.client() as http:
        assert http.post(f"/api/v2/videos/{video_id}/scripts", json=body["createScript"]).status_code == 201
        assert http.put(f"/api/v2/videos/{video_id}/lexicon", json=body["putLexicon"]).status_code == 200
        assert http.put("/api/v2/themes/examples-brand", json=body["putTheme"]).status_code in (200, 201)


def test_the_websocket_messages_on_the_wire_match_their_schemas(stack, document):
    video_id = new_video_id("ws-schema")
    with connect(stack.progress_url(video_id)) as socket:
        connected = json.loads(socket.recv(timeout=30))
    assert connected["type"] == "connected" and mismatches(document, component("StreamConnected"), connected) == []
    with connect(stack.progress_url(video_id, "?job_id=job-that-is-not-there")) as socket:
        refused = json.loads(socket.recv(timeout=30))
    assert refused["type"] == "error" and mismatches(document, component("StreamError"), refused) == []
    assert {"StreamConnected", "JobEvent", "StreamError"} <= document["components"]["schemas"].keys()

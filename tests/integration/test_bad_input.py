"""Bad input gets a clear error naming the field, loses nothing, and never crashes a renderer."""

import json

import httpx
import pytest

from services.api.auth.roles import Role
from tests.client import approved_script, new_video_id, start_render, wait_terminal

VALID = {"title": "t", "language": "ko", "scenes": [{"narration": "안녕하세요.", "slide": {"title": "s", "bullets": ["b"]}}]}


def scenes(count: int, narration: str = "하나.") -> list[dict]:
    return [{"narration": narration} for _ in range(count)]


SCHEMA_VIOLATIONS = [
    ("no scenes", {**VALID, "scenes": []}, "scenes"),
    ("201 scenes", {**VALID, "scenes": scenes(201)}, "scenes"),
    ("narration of 5,001 characters", {**VALID, "scenes": scenes(1, "가" * 5001)}, "scenes[0].narration"),
    ("100,001 narration characters in all", {**VALID, "scenes": scenes(21, "가" * 4762)}, "scenes"),
    (
        "slide title of 201 characters",
        {**VALID, "scenes": [{"narration": "a", "slide": {"title": "x" * 201}}]},
        "scenes[0].slide.title",
    ),
    ("13 bullets", {**VALID, "scenes": [{"narration": "a", "slide": {"bullets": ["b"] * 13}}]}, "scenes[0].slide.bullets"),
    (
        "bullet of 301 characters",
        {**VALID, "scenes": [{"narration": "a", "slide": {"bullets": ["b" * 301]}}]},
        "scenes[0].slide.bullets[0]",
    ),
    (
        "colour that is not #rrggbb",
        {**VALID, "scenes": [{"narration": "a", "slide": {"background": "red"}}]},
        "scenes[0].slide.background",
    ),
    ("language that is not BCP-47", {**VALID, "language": "korean!"}, "language"),
    ("narration that is a number", {**VALID, "scenes": [{"narration": 5}]}, "scenes[0].narration"),
    ("negative pause", {**VALID, "scenes": [{"narration": "a", "pause_sec": -1}]}, "scenes[0].pause_sec"),
    ("missing title", {key: value for key, value in VALID.items() if key != "title"}, "title"),
]


@pytest.fixture(scope="module")
def http(stack):
    with stack.client(role=Role.APPROVER, timeout=60) as client:
        yield client


@pytest.mark.parametrize(("case", "body", "field"), SCHEMA_VIOLATIONS, ids=[case for case, _, _ in SCHEMA_VIOLATIONS])
def test_schema_violation_is_422_naming_the_field_and_stores_nothing(http, case, body, field):
    video_id = new_video_id("bad")
    response = http.put(f"/api/v2/videos/{video_id}/scripts/s1", json=body)
    assert response.status_code == 422, (case, response.text)
    error = response.json()
    assert error["error_code"] == "VALIDATION_ERROR" and error["message"]
    assert error["detail"]["errors"][0]["field"] == field, (case, error)
    assert http.get(f"/api/v2/videos/{video_id}/scripts").json()["total"] == 0


@pytest.mark.parametrize(
    ("case", "raw", "content_type"),
    [
        ("not JSON", b"{'title':", "application/json"),
        ("NUL byte", b"\x00", "application/json"),
        ("JSON array", b"[]", "application/json"),
    ],
)
def test_malformed_body_is_422(http, case, raw, content_type):
    response = http.put(f"/api/v2/videos/{new_video_id('raw')}/scripts/s1", content=raw, headers={"content-type": content_type})
    assert response.status_code == 422 and response.json()["error_code"] == "VALIDATION_ERROR", (case, response.text)


def test_oversize_body_is_413_without_reading_it_whole(stack, http):
    # The Content-Length alone decides: 8 MiB announced, a few bytes sent, answer comes at once.
    response = http.put(
        f"/api/v2/videos/{new_video_id('big')}/scripts/s1",
        content=b"{" * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert httpx.get(f"{stack.base_url}/healthz").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/videos/has space/scripts",
        "/api/v2/videos/.hidden/scripts",
        f"/api/v2/videos/{'v' * 129}/scripts",
        "/api/v2/videos/v1/scripts/-dash-first",
        "/api/v2/videos/v1/render-jobs/not-a-job-id",
    ],
)
def test_ids_outside_the_safe_set_are_422(http, path):
    response = http.get(path)
    assert response.status_code == 422 and response.json()["error_code"] == "VALIDATION_ERROR", (path, response.text)


@pytest.mark.parametrize("narration", ["", " \n\t \u3000 ", "\u200b\u200d"])
def test_a_scene_without_narration_is_saved_as_a_draft_but_never_approved(http, narration):
    video_id = new_video_id("blank")
    script = {**VALID, "scenes": [VALID["scenes"][0], {"narration": narration, "hint": "페이지 2의 글"}]}
    url = f"/api/v2/videos/{video_id}/scripts/s1"
    saved = http.put(url, json=script)
    assert saved.status_code == 201 and saved.json()["scenes"][1]["hint"] == "페이지 2의 글", saved.text

    refused = http.post(f"{url}/approve")

    assert refused.status_code == 422, refused.text
    error = refused.json()
    assert error["error_code"] == "NARRATION_MISSING" and "Scene 2 of 2" in error["message"]
    assert error["detail"]["scenes"] == [1]
    assert error["detail"]["errors"] == [{"field": "$.scenes[1].narration", "message": "no narration to speak"}]
    assert http.get(url).json()["status"] == "DRAFT"
    response = http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": "s1"})
    assert response.status_code == 409 and response.json()["error_code"] == "SCRIPT_NOT_APPROVED"


EDGE_TEXTS = {
    "emoji and ZWJ sequences": "가족 👨‍👩‍👧‍👦 과 국기 🇰🇷 입니다.",
    "control characters": "줄\x00바꿈\x07과\x1b[31m 제어 문자.",
    "right-to-left text": "مرحبا بالعالم. שלום עולם.",
    "a 5,000-character word": "가" * 5000,
    "zero-width characters": "보\u200b이\u200d지\ufeff 않는 문자.",
    "glyphs the font lacks": "𓀀𓁐 𝕬𝖇𝖈 ꙮ.",  # noqa: RUF001 - the look-alike letters are the point
    "only punctuation": "…!?.",
}


@pytest.mark.parametrize("case", list(EDGE_TEXTS))
def test_strange_text_never_crashes_a_renderer(stack, http, case):
    text = EDGE_TEXTS[case]
    script = {
        "title": text[:200],
        "language": "ko",
        "scenes": [{"narration": text, "slide": {"title": text[:200], "bullets": [text[:300]]}}],
    }
    video_id = new_video_id("edge")
    job_id = start_render(http, video_id, approved_script(http, video_id, script))["job_id"]
    job = wait_terminal(http, video_id, job_id)
    assert job["status"] == "SUCCEEDED" or (job["status"] == "FAILED" and job["error_code"] == "INVALID_SCRIPT"), (case, job)
    assert job["attempt"] == 1, f"{case}: a renderer crashed or retried: {json.dumps(job['attempts'])}"

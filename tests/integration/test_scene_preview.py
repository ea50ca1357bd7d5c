"""Scene previews (SPEC §8.3 `POST …/scripts/{script_id}/preview`) through the real API, bus and
renderer: one scene alone as its video would render it, for a DRAFT too, refused in the §2 error
shape, and answered by the preview lane while the only worker renders."""

import io
import json
from collections.abc import Iterator

import av
import httpx
import pytest
from websockets.sync.client import connect

from libs.tokens import Role
from tests.client import job, new_video_id, start_render, wait_terminal
from tests.media import cues, near
from tests.stack import Stack

BACKGROUNDS = [(0xC0, 0x20, 0x20), (0x20, 0xA0, 0x40), (0x20, 0x40, 0xC0)]
"""Each scene's slide background: the decoded picture tells which scene a preview shows."""
PORTRAIT = (1080, 1920)
"""The 9:16 frame at the default RENDER_RESOLUTION (1920x1080)."""


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(data_dir=tmp_path_factory.mktemp("scene-preview-stack"), workers=1).running() as running:
        yield running


@pytest.fixture
def http(one_worker: Stack) -> Iterator[httpx.Client]:
    with one_worker.client(timeout=60) as client:
        yield client


def three_scenes() -> dict:
    narrations = [
        "첫 번째 장면입니다.",
        "두 번째 장면은 조금 더 길게 말합니다. 미리 보기는 이 장면만 보여 줍니다.",
        "세 번째 장면입니다.",
    ]
    return {
        "title": "장면 미리 보기",
        "language": "ko",
        "format": "9:16",
        "captions": {"burn_in": True},
        "scenes": [
            {
                "narration": narration,
                "pause_sec": 0.5,
                "slide": {"title": f"장면 {index}", "background": "#{:02x}{:02x}{:02x}".format(*BACKGROUNDS[index])},
            }
            for index, narration in enumerate(narrations)
        ],
    }


def draft(http: httpx.Client, script: dict) -> tuple[str, str]:
    video_id = new_video_id("scene-preview")
    response = http.put(f"/api/v2/videos/{video_id}/scripts/script-001", json=script)
    assert response.status_code == 201, response.text
    return video_id, "script-001"


def preview(http: httpx.Client, video_id: str, script_id: str, body: object) -> httpx.Response:
    return http.post(f"/api/v2/videos/{video_id}/scripts/{script_id}/preview", json=body)


def decoded(response: httpx.Response) -> tuple[tuple[int, int], float, tuple[int, ...]]:
    """The MP4's (frame size, audio duration, a pixel near the slide's left edge, mid-height)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content)) as container:
        (video,) = container.streams.video
        (audio,) = container.streams.audio
        assert audio.duration is not None and audio.time_base is not None
        seconds = float(audio.duration * audio.time_base)
        picture = next(container.decode(video=0)).to_image().convert("RGB")
    return (video.width, video.height), seconds, picture.getpixel((8, picture.height // 2))


def scene_lengths(http: httpx.Client, video_id: str, job_id: str) -> list[float]:
    """Each scene's time on screen in the finished render, from its chapters.vtt."""
    finished = wait_terminal(http, video_id, job_id)
    assert finished["status"] == "SUCCEEDED", finished
    chapters = httpx.get(finished["assets"]["chapters_url"], timeout=30)
    assert chapters.status_code == 200, chapters.text
    return [end - start for start, end, _ in cues(chapters.text)]


def test_a_draft_scene_previews_alone_as_the_render_shows_it(http):
    script = three_scenes()
    video_id, script_id = draft(http, script)
    size, seconds, pixel = decoded(preview(http, video_id, script_id, {"scene": 1}))
    assert size == PORTRAIT
    assert near(pixel, BACKGROUNDS[1]), pixel
    # The same scene in the whole video, once the draft is approved and rendered.
    assert http.post(f"/api/v2/videos/{video_id}/scripts/{script_id}/approve").status_code == 200
    lengths = scene_lengths(http, video_id, start_render(http, video_id, script_id)["job_id"])
    assert len(lengths) == 3
    assert seconds == pytest.approx(lengths[1], abs=0.1), (seconds, lengths)
    assert seconds < sum(lengths)


def test_each_scene_previews_its_own_slide(http):
    video_id, script_id = draft(http, three_scenes())
    for index in (0, 2):
        _, seconds, pixel = decoded(preview(http, video_id, script_id, {"scene": index}))
        assert near(pixel, BACKGROUNDS[index]), (index, pixel)
        assert seconds > 0.5


def test_a_preview_of_a_scene_without_narration_yet_names_it(http):
    script = three_scenes()
    script["scenes"][2]["narration"] = " "
    video_id, script_id = draft(http, script)
    response = preview(http, video_id, script_id, {"scene": 2})
    assert response.status_code == 422, response.text
    assert response.json()["error_code"] == "NARRATION_MISSING" and response.json()["detail"]["scenes"] == [2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scene": 3}, "$.scene"),  # past the last scene: named as in the script, `$.scenes[i]`
        # What the body's schema refuses, named as Litestar names a body's fields.
        ({"scene": -1}, "scene"),
        ({}, "scene"),
        ({"scene": 0, "speed": 2}, "speed"),
        (None, None),
    ],
)
def test_a_bad_scene_is_refused_in_the_error_shape(http, body, field):
    video_id, script_id = draft(http, three_scenes())
    response = preview(http, video_id, script_id, body)
    assert response.status_code == 422, response.headers
    error = response.json()
    assert set(error) == {"error_code", "message", "detail"} and error["error_code"] == "VALIDATION_ERROR"
    if field is not None:
        assert field in [problem.get("field") for problem in error["detail"]["errors"]], error


def test_a_preview_of_an_unknown_script_is_404(http):
    response = preview(http, new_video_id("nothing"), "script-001", {"scene": 0})
    assert response.status_code == 404 and response.json()["error_code"] == "SCRIPT_NOT_FOUND", response.text


def test_previews_need_the_editor_role(one_worker: Stack, http):
    video_id, script_id = draft(http, three_scenes())
    with one_worker.client(Role.VIEWER, timeout=30) as viewer:
        assert preview(viewer, video_id, script_id, {"scene": 0}).status_code == 403


def wait_for_step(stack: Stack, video_id: str, job_id: str, step: str) -> None:
    """Returns once the job's progress stream says it is RUNNING in `step`."""
    with connect(stack.progress_url(video_id, f"?job_id={job_id}"), open_timeout=10) as socket:
        while True:
            event = json.loads(socket.recv(timeout=120))
            assert event.get("status") not in {"SUCCEEDED", "FAILED", "CANCELED"}, event
            if event.get("status") == "RUNNING" and event.get("step") == step:
                return


def test_a_preview_is_answered_while_the_only_worker_renders(one_worker: Stack, http, reference_script):
    video_id = new_video_id("busy")
    # The reference scenes 16 times over: a render that lasts far longer than a preview.
    long_script = {**reference_script, "scenes": reference_script["scenes"] * 16}
    assert http.put(f"/api/v2/videos/{video_id}/scripts/long", json=long_script).status_code == 201
    assert http.post(f"/api/v2/videos/{video_id}/scripts/long/approve").status_code == 200
    job_id = start_render(http, video_id, "long")["job_id"]
    try:
        wait_for_step(one_worker, video_id, job_id, "RENDER_SLIDES")
        _, seconds, _ = decoded(preview(http, video_id, "long", {"scene": 1}))
        assert seconds > 0.5
        # Read after the preview's answer: the render was still going when it came.
        assert job(http, video_id, job_id)["status"] == "RUNNING"
    finally:
        http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")
        wait_terminal(http, video_id, job_id)

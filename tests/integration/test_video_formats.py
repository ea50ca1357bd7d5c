"""Each script format (SPEC §8.3) through the real API, bus and renderer: the MP4's frame and the
thumbnail take the format's shape, scaled by RENDER_RESOLUTION's short side, and the picture
still ends with the sound."""

import io
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image

from tests.client import approved_script, follow, new_video_id, start_render
from tests.media import audio_video_durations
from tests.stack import Stack

RENDER_RESOLUTION = "640x360"
EXPECTED = {
    # format: (video frame at 640x360, thumbnail 1280 on its long side)
    "16:9": ((640, 360), (1280, 720)),
    "9:16": ((360, 640), (720, 1280)),
    "1:1": ((360, 360), (1280, 1280)),
    "4:5": ((360, 450), (1024, 1280)),
}


@pytest.fixture(scope="module")
def formats_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(data_dir=tmp_path_factory.mktemp("formats-stack"), extra_env={"RENDER_RESOLUTION": RENDER_RESOLUTION})
    with stack.running() as running:
        yield running


def landscape_png() -> bytes:
    """A 4:3 picture: letterboxed in some formats, cropped in others."""
    picture = Image.new("RGB", (400, 300), (200, 40, 40))
    picture.paste((40, 40, 200), (200, 0, 400, 300))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def script(format_name: str, media_id: str) -> dict:
    return {
        "title": f"형식 {format_name}",
        "language": "ko",
        "format": format_name,
        "captions": {"burn_in": True},
        "scenes": [
            {
                "narration": "세로 화면에서도 글자가 잘리지 않고 보여야 합니다.",
                "slide": {
                    "title": "모든 형식에 맞추는 슬라이드",
                    "bullets": ["긴 항목도 줄을 바꿔 화면 안에 들어갑니다", "둘째 항목"],
                },
            },
            {
                "narration": "사진은 화면에 맞춰 들어갑니다.",
                "slide": {"image": media_id, "title": "사진 슬라이드", "caption": "사진 설명"},
            },
            {
                "narration": "덮기로 맞춘 사진은 가장자리가 잘립니다.",
                "slide": {"image": media_id, "fit": "cover", "motion": "zoom-in"},
            },
        ],
    }


@pytest.fixture(scope="module")
def rendered(formats_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """Every format rendered once, the jobs running side by side; their video and thumbnail."""
    folder = tmp_path_factory.mktemp("formats")
    files: dict[str, dict[str, Path]] = {}
    with formats_stack.client(timeout=30) as http:
        jobs = {}
        for format_name in EXPECTED:
            video_id = new_video_id("format")
            upload = http.post(f"/api/v2/videos/{video_id}/media", content=landscape_png())
            assert upload.status_code in (200, 201), upload.text
            script_id = approved_script(http, video_id, script(format_name, upload.json()["media_id"]))
            jobs[format_name] = (video_id, start_render(http, video_id, script_id)["job_id"])
        for format_name, (video_id, job_id) in jobs.items():
            follow(formats_stack, video_id, f"?job_id={job_id}&last_seq=0")
            job = http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()
            assert job["status"] == "SUCCEEDED", job
            files[format_name] = {}
            for key in ("video_url", "thumbnail_url"):
                path = folder / f"{format_name.replace(':', 'x')}-{Path(job['assets'][key]).name}"
                path.write_bytes(httpx.get(job["assets"][key], timeout=30).content)
                files[format_name][key] = path
    return files


@pytest.mark.parametrize("format_name", EXPECTED)
def test_the_video_frame_takes_the_format_scaled_by_render_resolution(rendered, format_name):
    with av.open(str(rendered[format_name]["video_url"])) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == EXPECTED[format_name][0]
        first = next(container.decode(stream))
        assert (first.width, first.height) == EXPECTED[format_name][0]


@pytest.mark.parametrize("format_name", EXPECTED)
def test_the_thumbnail_has_the_video_shape_1280_on_its_long_side(rendered, format_name):
    with Image.open(rendered[format_name]["thumbnail_url"]) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", EXPECTED[format_name][1])


@pytest.mark.parametrize("format_name", EXPECTED)
def test_picture_and_sound_end_together_in_every_format(rendered, format_name):
    audio, video = audio_video_durations(rendered[format_name]["video_url"])
    assert abs(audio - video) <= 0.050, (format_name, audio, video)

"""The whole path on the S3 backend: the API and the renderer pool share no asset folder, only a
real S3 API server (moto). The renderer uploads and publishes by manifest; the API serves the
files from the store with its own URLs, ranges and validators; the MP4 is inspected with PyAV."""

import av
import httpx
import pytest

from tests import decks
from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.integration.test_decks import imported, narrated, rendered_video
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.media import audio_video_durations, distinct_pictures, near


@pytest.fixture(scope="module")
def rendered(s3_stack, tmp_path_factory) -> dict:
    video_id = new_video_id("s3")
    with s3_stack.client(timeout=60) as http:
        created = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))
        job = wait_terminal(http, video_id, created["job_id"], timeout=300)
        assert job["status"] == "SUCCEEDED", job
        response = http.get(job["assets"]["video_url"])
    path = tmp_path_factory.mktemp("s3-downloads") / "video.mp4"
    path.write_bytes(response.content)
    return {"job": job, "video": response, "path": path}


def test_the_render_is_published_only_through_the_store(s3_stack, rendered):
    assert rendered["video"].status_code == 200
    assert rendered["video"].headers["content-type"] == "video/mp4"
    assert int(rendered["video"].headers["content-length"]) == rendered["path"].stat().st_size
    # Nothing was published into the local folder the API would otherwise serve from.
    assert not [path for path in s3_stack.asset_dir.rglob("*") if path.is_file()], "files in ASSET_DIR"


def test_the_video_from_the_store_is_h264_and_aac_of_equal_length(rendered):
    with av.open(str(rendered["path"])) as container:
        assert [s.codec_context.name for s in container.streams.video] == ["h264"]
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
    audio, video = audio_video_durations(rendered["path"])
    assert abs(audio - video) <= 0.050 and abs(rendered["job"]["assets"]["duration_sec"] - audio) <= 0.050


def test_ranges_validators_and_head_come_from_the_store(s3_stack, rendered):
    whole = rendered["path"].read_bytes()
    url = rendered["job"]["assets"]["video_url"]
    with httpx.Client(timeout=30) as http:
        middle = http.get(url, headers={"Range": "bytes=1000-1999"})
        assert middle.status_code == 206 and middle.content == whole[1000:2000]
        assert middle.headers["content-range"] == f"bytes 1000-1999/{len(whole)}"
        tail = http.get(url, headers={"Range": "bytes=-100"})
        assert tail.status_code == 206 and tail.content == whole[-100:]
        beyond = http.get(url, headers={"Range": f"bytes={len(whole)}-"})
        assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(whole)}"
        etag = rendered["video"].headers["etag"]
        assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
        head = http.head(url)
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == len(whole)
        assert head.headers["etag"] == etag


def test_readyz_reports_the_store(s3_stack):
    ready = httpx.get(f"{s3_stack.base_url}/readyz", timeout=30).json()
    assert ready["store"] is True and ready["status"] == "ready", ready
    metrics = httpx.get(f"{s3_stack.base_url}/metrics", timeout=30).text
    assert 'slidereel_store_operations_total{operation="check",result="ok"}' in metrics


def test_a_deck_imported_on_the_s3_store_keeps_its_pages_there_and_renders_from_them(s3_stack, tmp_path):
    """The pages of an import are media in the store: the renderer fetches them from it, never
    from the API's disk (ASSET_DIR stays empty)."""
    colours = [(200, 30, 30), (250, 250, 150)]
    deck = decks.pdf([decks.coloured_page(colour, f"Page {number}") for number, colour in enumerate(colours, start=1)])
    video_id = new_video_id("s3-deck")
    with s3_stack.client(timeout=120) as http:
        done = imported(http, http.post(f"/api/v2/videos/{video_id}/decks", content=deck))
        narrated(http, video_id, done["script"], {0: "첫 페이지입니다.", 1: "둘째 페이지입니다."})
        video, _ = rendered_video(http, video_id, done["script_id"], tmp_path)

    pictures = distinct_pictures(video)
    assert len(pictures) == 2 and all(near(picture.getpixel((100, 540)), colour) for picture, colour in zip(pictures, colours))
    assert not [path for path in s3_stack.asset_dir.rglob("*") if path.is_file()], "files in ASSET_DIR"

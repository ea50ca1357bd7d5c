"""Image slides through the whole pipeline: the picture is fetched from the asset store the API
published it to, drawn into the video and the thumbnail, and never published with the job."""

import os
import threading
from collections.abc import Iterator
from pathlib import PurePosixPath

import av
import obstore
import pytest
from obstore.store import S3Store
from PIL import Image

from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import Scene, Script, Slide
from libs.storage import MEDIA_FILE, AssetStore, media_key, open_asset_store
from libs.storage.local import LocalFolderStore
from libs.storage.s3 import MANIFEST
from services.renderer.pipeline import RenderFailure, render_job
from services.renderer.settings import RendererSettings
from tests.s3_server import CREDENTIALS, S3Server, running_s3_server

from .conftest import make_job

ASSET_FILES = ["chapters.vtt", "subtitles.srt", "subtitles.vtt", "thumbnail.jpg", "video.mp4", "words.json"]
BACKGROUND = "#000000"
RED, BLUE = (255, 0, 0), (0, 0, 255)


class Recorder:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    def __call__(self, step: Step, progress: int, message: str) -> None:
        self.steps.append(step)


def publish_picture(store: AssetStore, picture: Image.Image, format: str) -> str:
    """What the API does with an upload: one file, MEDIA_FILE, published under the media key."""
    media_id = f"med-{os.urandom(16).hex()}"
    staging = store.staging(media_key("video-1", media_id))
    picture.save(staging / MEDIA_FILE, format=format, **({"quality": 95} if format == "JPEG" else {}))
    store.publish(staging, media_key("video-1", media_id))
    return media_id


def red_and_blue() -> Image.Image:
    """A square, red on the left half and blue on the right."""
    picture = Image.new("RGB", (400, 400), RED)
    picture.paste(BLUE, (200, 0, 400, 400))
    return picture


def picture_script(*slides: Slide) -> Script:
    scenes = [Scene(narration=f"{number}번 사진입니다.", slide=slide) for number, slide in enumerate(slides, start=1)]
    return Script(title="사진", language="ko", scenes=scenes)


def render(store: AssetStore, tmp_path, script: Script, recorder=None):
    settings = RendererSettings(asset_dir=tmp_path)
    return render_job(make_job(script), settings=settings, storage=store, report=recorder or Recorder(), cancel=threading.Event())


def decoded_frames(path) -> list[Image.Image]:
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def close_to(pixel, color, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color))


def test_an_image_slide_is_drawn_into_the_video_where_contain_puts_it(tmp_path):
    store = LocalFolderStore(tmp_path)
    media_id = publish_picture(store, red_and_blue(), "JPEG")
    render(store, tmp_path, picture_script(Slide(image=media_id, background=BACKGROUND)))

    published = tmp_path / "video-1" / "job-1"
    assert sorted(path.name for path in published.iterdir()) == ASSET_FILES
    # 640×360: the square is 360×360 at x 140..500, red to 320 and blue after it.
    first = decoded_frames(published / "video.mp4")[0]
    assert first.size == (640, 360)
    for (x, y), color in {
        (60, 180): (0, 0, 0),
        (160, 20): RED,
        (300, 340): RED,
        (340, 20): BLUE,
        (480, 340): BLUE,
        (580, 180): (0, 0, 0),
    }.items():
        assert close_to(first.getpixel((x, y)), color), ((x, y), first.getpixel((x, y)))
    with Image.open(published / "thumbnail.jpg") as thumbnail:
        assert close_to(thumbnail.getpixel((400, 360)), RED) and close_to(thumbnail.getpixel((880, 360)), BLUE)
    assert store.fetch(media_key("video-1", media_id), MEDIA_FILE, tmp_path / "x").exists(), "the upload stays"


def test_a_picture_shown_twice_is_fetched_once_and_text_slides_mix_in(tmp_path, monkeypatch):
    store = LocalFolderStore(tmp_path)
    media_id = publish_picture(store, red_and_blue(), "PNG")
    fetched = []
    original = LocalFolderStore.fetch

    def counting(self, key, name, into):
        fetched.append(key)
        return original(self, key, name, into)

    monkeypatch.setattr(LocalFolderStore, "fetch", counting)
    script = picture_script(
        Slide(image=media_id, fit="cover", title="표지"),
        Slide(title="글", bullets=["항목"]),
        Slide(image=media_id, caption="다시"),
    )
    render(store, tmp_path, script)
    assert fetched == [media_key("video-1", media_id)]
    frames = decoded_frames(tmp_path / "video-1" / "job-1" / "video.mp4")
    assert len(frames) == 3
    assert close_to(frames[0].getpixel((20, 180)), RED) and close_to(frames[0].getpixel((620, 180)), BLUE)


def test_a_missing_picture_fails_the_job_for_good_before_any_narration(tmp_path):
    store = LocalFolderStore(tmp_path)
    present = publish_picture(store, red_and_blue(), "PNG")
    missing = f"med-{'f' * 32}"
    recorder = Recorder()
    with pytest.raises(RenderFailure) as failure:
        render(store, tmp_path, picture_script(Slide(image=present), Slide(image=missing), Slide(image=missing)), recorder)
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.RENDER_FAILED, False)
    assert missing in str(failure.value) and "scene 2, 3" in str(failure.value)
    assert Step.GENERATE_TTS not in recorder.steps
    assert not (tmp_path / "video-1" / "job-1").exists()


def test_a_picture_that_does_not_decode_fails_the_job_for_good(tmp_path):
    store = LocalFolderStore(tmp_path)
    media_id = f"med-{os.urandom(16).hex()}"
    staging = store.staging(media_key("video-1", media_id))
    (staging / MEDIA_FILE).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    store.publish(staging, media_key("video-1", media_id))
    with pytest.raises(RenderFailure) as failure:
        render(store, tmp_path, picture_script(Slide(image=media_id)))
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.RENDER_FAILED, False)
    assert "PictureUnreadable" in str(failure.value) and media_id in str(failure.value)
    assert str(tmp_path) not in str(failure.value), "the job's error would show callers a path on the renderer"


@pytest.fixture
def s3_server(monkeypatch) -> Iterator[S3Server]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with running_s3_server() as server:
        server.create_bucket("renders")
        yield server


@pytest.mark.anyio
async def test_with_s3_the_picture_is_downloaded_for_the_render_and_not_published_with_it(s3_server, tmp_path):
    s3_store = open_asset_store("s3://renders/prefix", tmp_path, endpoint_url=s3_server.endpoint_url)
    media_id = publish_picture(s3_store, red_and_blue(), "JPEG")
    render(s3_store, tmp_path, picture_script(Slide(image=media_id, background=BACKGROUND)))

    raw = S3Store("renders", config={"endpoint": s3_server.endpoint_url}, client_options={"allow_http": True})
    uploaded = [meta["path"] for batch in obstore.list(raw, "prefix/video-1/job-1/") for meta in batch]
    assert sorted(PurePosixPath(path).name for path in uploaded) == sorted([*ASSET_FILES, MANIFEST])
    download = tmp_path / "first.mp4"
    download.write_bytes(b"".join([chunk async for chunk in s3_store.read("video-1/job-1", "video.mp4", 0, 1 << 30)]))
    first = decoded_frames(download)[0]
    assert close_to(first.getpixel((160, 20)), RED) and close_to(first.getpixel((480, 340)), BLUE)
    assert close_to(first.getpixel((60, 180)), (0, 0, 0))
    assert list((tmp_path / ".staging").iterdir()) == [], "the download went with the staging folder"

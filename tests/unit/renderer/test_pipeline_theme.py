"""A job's theme through the whole pipeline: its logo and font fetched from the asset store where
the API resolved them (media of any video), its colours and logo drawn into the video and the
thumbnail; a font that cannot be loaded fails the job for good."""

import io
import os
import threading

import av
import msgspec
import pytest
from PIL import Image

from libs.contracts.codes import ErrorCode
from libs.contracts.script import Scene, Script, Slide
from libs.contracts.theme import Theme, ThemeAssets
from libs.storage import MEDIA_FILE, AssetStore, media_key
from libs.storage.local import LocalFolderStore
from services.renderer.pipeline import RenderFailure, render_job
from services.renderer.settings import RendererSettings

from .conftest import make_job, write_box_font

THEME = Theme(background="#204060", text="#ffffff", accent="#ff8000", logo_position="top-right")
MAGENTA = (255, 0, 255)
OTHER_VIDEO = "video-9"
"""A theme may name media uploaded to any video: these are not the job's."""


def publish(store: AssetStore, data: bytes) -> str:
    media_id = f"med-{os.urandom(16).hex()}"
    staging = store.staging(media_key(OTHER_VIDEO, media_id))
    (staging / MEDIA_FILE).write_bytes(data)
    store.publish(staging, media_key(OTHER_VIDEO, media_id))
    return media_id


def png(image: Image.Image) -> bytes:
    data = io.BytesIO()
    image.save(data, format="PNG")
    return data.getvalue()


def themed_job(store: AssetStore, font: bytes):
    logo, font_id = publish(store, png(Image.new("RGB", (200, 100), MAGENTA))), publish(store, font)
    theme = msgspec.structs.replace(THEME, logo=logo, font=font_id)
    assets = ThemeAssets(theme=theme, font_key=media_key(OTHER_VIDEO, font_id), logo_key=media_key(OTHER_VIDEO, logo))
    script = Script(title="테마", scenes=[Scene(narration="테마 영상입니다.", slide=Slide(layout="title", title="A 제목"))])
    return msgspec.structs.replace(make_job(script), theme=assets)


def render(store: AssetStore, tmp_path, job):
    return render_job(
        job,
        settings=RendererSettings(asset_dir=tmp_path),
        storage=store,
        report=lambda *_: None,
        cancel=threading.Event(),
    )


def close_to(pixel, color, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color))


def test_a_themed_job_shows_its_background_and_logo_in_the_video_and_the_thumbnail(tmp_path):
    store = LocalFolderStore(tmp_path)
    render(store, tmp_path, themed_job(store, write_box_font(tmp_path / "box.ttf").read_bytes()))
    published = tmp_path / "video-1" / "job-1"
    with av.open(str(published / "video.mp4")) as container:
        first = next(container.decode(video=0)).to_image()
    # 640×360: the logo is 80×40 inside the top-right margins (x 515..595, y 29..69).
    assert close_to(first.getpixel((555, 49)), MAGENTA), first.getpixel((555, 49))
    assert close_to(first.getpixel((20, 20)), (0x20, 0x40, 0x60)), first.getpixel((20, 20))
    assert close_to(first.getpixel((555, 300)), (0x20, 0x40, 0x60)), "the logo is in its corner only"
    with Image.open(published / "thumbnail.jpg") as thumbnail:  # 1280×720: the logo at x 1030..1190, y 58..137
        assert close_to(thumbnail.getpixel((1110, 98)), MAGENTA), thumbnail.getpixel((1110, 98))


def test_a_theme_font_that_cannot_be_loaded_fails_the_job_for_good(tmp_path):
    store = LocalFolderStore(tmp_path)
    with pytest.raises(RenderFailure) as failed:
        render(store, tmp_path, themed_job(store, b"not a font" * 100))
    assert failed.value.error_code is ErrorCode.RENDER_FAILED and not failed.value.retryable
    assert "the theme's font" in str(failed.value)

"""A video's own images through the real API: uploaded (raw body or multipart), content-
addressed, refused with the right code when they are not what they claim or too large, named
by scripts (unknown ones refused at save), and rendered into the right place of the right
scene, checked on the decoded MP4 frames."""

import io
import struct
import zlib

import av
import httpx
import pytest
from PIL import Image

from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.media import distinct_pictures, near

FRAME = (1920, 1080)
BACKGROUND = (0x1E, 0x2A, 0x4A)
"""The default slide background (services/renderer/slides.py)."""


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def wide_red_png() -> bytes:
    return encoded(Image.new("RGB", (800, 400), (255, 0, 0)), "PNG")


def rotated_jpeg() -> bytes:
    """Stored 400×300 with the left half blue and the right half yellow, and EXIF Orientation 6
    (rotate 90° clockwise to show): shown 300×400, blue on top, yellow below."""
    image = Image.new("RGB", (400, 300), (255, 255, 0))
    image.paste((0, 0, 255), (0, 0, 200, 300))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(image, "JPEG", quality=95, exif=exif.tobytes())


def cmyk_green_jpeg() -> bytes:
    return encoded(Image.new("CMYK", (600, 600), (255, 0, 255, 0)), "JPEG", quality=95)


def transparent_png() -> bytes:
    """400×400, transparent everywhere (magenta under the alpha) but an opaque white square in the middle."""
    image = Image.new("RGBA", (400, 400), (255, 0, 255, 0))
    image.paste((255, 255, 255, 255), (100, 100, 300, 300))
    return encoded(image, "PNG")


def truncated_jpeg() -> bytes:
    """A noisy photo's JPEG cut in the middle of its picture data."""
    whole = encoded(Image.effect_noise((400, 300), 64).convert("RGB"), "JPEG", quality=90)
    return whole[: len(whole) // 2]


def bomb_png() -> bytes:
    """A valid PNG signature and header declaring 30,000 × 30,000 pixels, a few bytes long."""
    header = struct.pack(">IIBBBBB", 30_000, 30_000, 1, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\0" * 1024)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat


def upload(http: httpx.Client, video_id: str, data: bytes, **options) -> httpx.Response:
    return http.post(f"/api/v2/videos/{video_id}/media", content=data, **options)


def media_total(http: httpx.Client, video_id: str) -> int:
    return http.get(f"/api/v2/videos/{video_id}/media").json()["total"]


def test_an_upload_is_stored_once_and_served_back(stack):
    video_id = new_video_id("media")
    with stack.client(timeout=30) as http:
        first = upload(http, video_id, wide_red_png(), headers={"content-type": "application/octet-stream"})
        assert first.status_code == 201, first.text
        stored = first.json()
        assert stored["media_id"].startswith("med-") and stored["sha256"].startswith(stored["media_id"][4:])
        assert (stored["width"], stored["height"], stored["content_type"]) == (800, 400, "image/jpeg")
        again = http.post(f"/api/v2/videos/{video_id}/media", files={"file": ("photo.png", wide_red_png(), "image/png")})
        assert again.status_code == 200 and again.json()["media_id"] == stored["media_id"]
        assert media_total(http, video_id) == 1
        content = http.get(f"/api/v2/videos/{video_id}/media/{stored['media_id']}/content")
        assert content.status_code == 200 and content.headers["content-type"] == "image/jpeg"
        assert len(content.content) == stored["bytes"]
        assert Image.open(io.BytesIO(content.content)).size == (800, 400)
        assert http.get(f"/api/v2/videos/{video_id}/media/{stored['media_id']}").json() == stored
        other_video = http.get(f"/api/v2/videos/{new_video_id('media')}/media/{stored['media_id']}")
        assert other_video.status_code == 404 and other_video.json()["error_code"] == "MEDIA_NOT_FOUND"


@pytest.mark.parametrize(
    ("name", "data", "status", "error_code"),
    [
        ("bomb.png", bomb_png(), 422, "MEDIA_TOO_LARGE"),
        ("cut.jpg", truncated_jpeg(), 422, "MEDIA_INVALID"),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("print.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("page.png", b"<!doctype html><html><body>not an image</body></html>", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("empty.png", b"", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("huge.png", b"\0" * (25 * 1024 * 1024 + 1), 413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_bad_uploads_are_refused_with_their_code_and_nothing_is_stored(stack, name, data, status, error_code):
    video_id = new_video_id("refused")
    with stack.client(timeout=60) as http:
        response = http.post(f"/api/v2/videos/{video_id}/media", files={"file": (name, data, "image/png")})
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error_code"] == error_code and body["message"], body
        assert media_total(http, video_id) == 0
        assert not (stack.asset_dir / video_id).exists(), "a refused upload left files"
        assert http.get("/healthz").status_code == 200


def test_a_script_naming_an_image_the_video_lacks_is_refused_at_save(stack):
    video_id = new_video_id("unknown-media")
    script = {
        "title": "t",
        "scenes": [
            {"narration": "하나", "slide": {"title": "text"}},
            {"narration": "둘", "slide": {"image": "med-" + "0" * 32}},
        ],
    }
    with stack.client() as http:
        response = http.put(f"/api/v2/videos/{video_id}/scripts/s1", json=script)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_code"] == "VALIDATION_ERROR"
    assert body["detail"]["errors"][0]["field"] == "$.scenes[1].slide.image"


def test_uploaded_images_render_into_the_right_place_of_the_right_scene(stack, tmp_path):
    video_id = new_video_id("image-slides")
    with stack.client(timeout=60) as http:
        ids = []
        for data in (wide_red_png(), rotated_jpeg(), cmyk_green_jpeg(), transparent_png()):
            response = upload(http, video_id, data)
            assert response.status_code == 201, response.text
            ids.append(response.json()["media_id"])
        script = {
            "title": "내 사진",
            "language": "ko",
            "scenes": [
                {"narration": "첫 번째 사진입니다.", "slide": {"image": ids[0], "fit": "contain"}},
                {"narration": "두 번째 사진입니다.", "slide": {"image": ids[1], "fit": "cover"}},
                {"narration": "세 번째 사진입니다.", "slide": {"image": ids[2], "title": "초록", "caption": "CMYK에서 온 색"}},
                {"narration": "네 번째 사진입니다.", "slide": {"image": ids[3]}},
            ],
        }
        created = start_render(http, video_id, approved_script(http, video_id, script))
        job = wait_terminal(http, video_id, created["job_id"])
        assert job["status"] == "SUCCEEDED", job
        video = tmp_path / "video.mp4"
        video.write_bytes(http.get(job["assets"]["video_url"]).content)

    pictures = distinct_pictures(video)
    assert len(pictures) == 4 and all(picture.size == FRAME for picture in pictures)
    red, rotated, green, transparent = pictures
    # contain: 800×400 scaled to 1920×960, bands of 60 px above and below.
    assert near(red.getpixel((960, 540)), (255, 0, 0)) and near(red.getpixel((960, 20)), BACKGROUND)
    # cover of the picture as shown (300×400, blue over yellow), not as stored (blue beside yellow).
    assert near(rotated.getpixel((480, 270)), (0, 0, 255)) and near(rotated.getpixel((480, 810)), (255, 255, 0))
    # CMYK green, letterboxed left and right (600×600 → 1080×1080 in the middle).
    assert near(green.getpixel((960, 540)), (0, 255, 0)) and near(green.getpixel((100, 540)), BACKGROUND)
    # Transparent parts show the slide background, never the magenta under the alpha.
    assert near(transparent.getpixel((960, 540)), (255, 255, 255))
    assert near(transparent.getpixel((600, 200)), BACKGROUND)


def test_a_zoom_in_image_slide_grows_through_its_scene_under_a_still_title(stack, tmp_path):
    video_id = new_video_id("zoom")
    square = Image.new("RGB", (1600, 900), (0, 0, 0))
    square.paste((255, 255, 255), (600, 250, 1000, 650))
    with stack.client(timeout=60) as http:
        red = Image.new("RGB", (64, 64), (255, 0, 0))
        ids = [upload(http, video_id, encoded(image, "PNG")).json()["media_id"] for image in (square, red)]
        script = {
            "title": "줌",
            "language": "ko",
            "scenes": [
                {"narration": "가만히 있는 사진입니다.", "slide": {"image": ids[1]}},
                {
                    "narration": "천천히 다가가는 사진입니다. 제목은 움직이지 않습니다.",
                    "slide": {"image": ids[0], "fit": "cover", "title": "다가가기", "motion": "zoom-in"},
                },
            ],
        }
        refused = http.put(
            f"/api/v2/videos/{video_id}/scripts/text",
            json={"title": "t", "scenes": [{"narration": "글", "slide": {"title": "글", "motion": "zoom-in"}}]},
        )
        assert refused.status_code == 422 and "motion belongs to an image slide" in refused.text
        job = wait_terminal(http, video_id, start_render(http, video_id, approved_script(http, video_id, script))["job_id"])
        assert job["status"] == "SUCCEEDED", job
        video = tmp_path / "video.mp4"
        video.write_bytes(http.get(job["assets"]["video_url"]).content)

    with av.open(str(video)) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    still, moving = frames[0], frames[1:]
    assert near(still.getpixel((960, 540)), (255, 0, 0))
    assert len(moving) > 30, "a zooming scene is drawn at 30 frames a second"
    widths = [sum(1 for x in range(0, 1920, 4) if min(frame.getpixel((x, 540))) > 200) * 4 for frame in moving]
    assert widths == sorted(widths) and widths[-1] > widths[0] * 1.08, widths
    band = [frame.crop((0, 0, 1920, 40)).convert("L").resize((48, 1)).tobytes() for frame in moving]
    assert max(abs(a - b) for row in band for a, b in zip(row, band[0])) <= 12, "the title band moved"

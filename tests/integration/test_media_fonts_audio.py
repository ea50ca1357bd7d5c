"""Fonts and audio through the real API (issue 27): told by their bytes, stored as uploaded with
their facts, served back with their content type, and every kind of bad upload refused with its
code and nothing stored, the API answering on. Small limits (MEDIA_MAX_AUDIO_SEC=5 and small
byte limits) keep the over-limit files small."""

import random
from collections.abc import Iterator

import av
import httpx
import pytest

from tests.client import new_video_id
from tests.media_uploads import (
    ASCII,
    built_font,
    encoded_audio,
    flac_claiming,
    hangul_font,
    latin_font,
    mp3_claiming,
    mp4_with_video,
    wav_claiming,
    with_table_count,
    with_table_length,
    with_table_renamed,
    with_table_scrambled,
)
from tests.stack import Stack

MAX_AUDIO_SEC = 5
MAX_BYTES = 64 * 1024
"""MEDIA_MAX_BYTES: images and fonts."""
MAX_AUDIO_BYTES = 1024 * 1024

needs_mp3 = pytest.mark.skipif("libmp3lame" not in av.codecs_available, reason="this FFmpeg has no MP3 encoder (libmp3lame)")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API alone (uploads need no renderer) with small media limits."""
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("media-kinds"),
        workers=0,
        extra_env={
            "MEDIA_MAX_BYTES": str(MAX_BYTES),
            "MEDIA_MAX_AUDIO_BYTES": str(MAX_AUDIO_BYTES),
            "MEDIA_MAX_AUDIO_SEC": str(MAX_AUDIO_SEC),
        },
    )
    with stack.running_api() as running:
        yield running


def upload(http: httpx.Client, video_id: str, data: bytes, name: str = "upload.bin") -> httpx.Response:
    return http.post(f"/api/v2/videos/{video_id}/media", files={"file": (name, data, "application/octet-stream")})


# Accepted


@pytest.mark.parametrize(
    ("make", "content_type", "codec", "channels"),
    [
        (lambda: encoded_audio("wav", "pcm_s16le"), "audio/wav", "pcm_s16le", 2),
        (lambda: encoded_audio("flac", "flac", layout="mono"), "audio/flac", "flac", 1),
        pytest.param(lambda: encoded_audio("mp3", "libmp3lame"), "audio/mpeg", "mp3", 2, marks=needs_mp3),
        (lambda: encoded_audio("ogg", "libopus"), "audio/ogg", "opus", 2),
        (lambda: encoded_audio("ipod", "aac", rate=44_100), "audio/mp4", "aac", 2),
    ],
    ids=["WAV", "FLAC", "MP3", "Ogg Opus", "M4A"],
)
def test_audio_is_stored_as_uploaded_with_its_decoded_facts(limited, make, content_type, codec, channels):
    video_id = new_video_id("audio")
    data = make()
    with limited.client(timeout=30) as http:
        response = upload(http, video_id, data, "song.bin")
        assert response.status_code == 201, response.text
        media = response.json()
        assert (media["kind"], media["content_type"], media["codec"], media["channels"]) == (
            "audio",
            content_type,
            codec,
            channels,
        )
        assert media["sample_rate"] in (44_100, 48_000) and media["duration_sec"] == pytest.approx(1.0, abs=0.05)
        assert (media["width"], media["height"], media["family"], media["covers_hangul"]) == (None, None, None, None)
        content = http.get(f"/api/v2/videos/{video_id}/media/{media['media_id']}/content")
        assert content.status_code == 200 and content.headers["content-type"] == content_type
        assert content.content == data, "audio is stored byte for byte"
        assert upload(http, video_id, data).status_code == 200, "the same bytes are the same media"


@pytest.mark.parametrize(
    ("make", "content_type", "family", "covers_hangul"),
    [
        (hangul_font, "font/ttf", "Test Hangul", True),
        (latin_font, "font/ttf", "Test Latin", False),
        (lambda: built_font("Few Syllables", [*ASCII, *range(0xAC00, 0xAC10)]), "font/ttf", "Few Syllables", False),
        (lambda: built_font("Test CFF", ASCII, cff=True), "font/otf", "Test CFF", False),
    ],
    ids=["TTF with Hangul", "TTF without", "TTF with 16 syllables", "OTF"],
)
def test_a_font_is_stored_as_uploaded_with_its_family_and_hangul_coverage(limited, make, content_type, family, covers_hangul):
    video_id = new_video_id("font")
    data = make()
    with limited.client(timeout=30) as http:
        response = upload(http, video_id, data, "face.ttf")
        assert response.status_code == 201, response.text
        media = response.json()
        assert (media["kind"], media["content_type"], media["family"], media["covers_hangul"]) == (
            "font",
            content_type,
            family,
            covers_hangul,
        )
        assert media["duration_sec"] is None and media["width"] is None
        content = http.get(f"/api/v2/videos/{video_id}/media/{media['media_id']}/content")
        assert content.headers["content-type"] == content_type and content.content == data
        listed = http.get(f"/api/v2/videos/{video_id}/media").json()
        assert [item["media_id"] for item in listed["media"]] == [media["media_id"]]


# Refused


def font_rows() -> list:
    font = latin_font()
    return [
        ("collection.ttc", b"ttcf\x00\x02\x00\x00" + font, 415, "UNSUPPORTED_MEDIA_TYPE", "collection (TTC)"),
        ("web.woff", b"wOFF" + font, 415, "UNSUPPORTED_MEDIA_TYPE", "WOFF web font"),
        ("web.woff2", b"wOF2" + font, 415, "UNSUPPORTED_MEDIA_TYPE", "WOFF2 web font"),
        ("header.ttf", font[:10], 422, "MEDIA_INVALID", "ends inside its header"),
        ("cut.ttf", font[: len(font) // 2], 422, "MEDIA_INVALID", "outside the"),
        ("2gb-table.ttf", with_table_length(font, b"glyf", 2**31), 422, "MEDIA_INVALID", "claims 2,147,483,648 bytes"),
        ("65535-tables.ttf", with_table_count(font, 65_535), 422, "MEDIA_TOO_LARGE", "lists 65,535 tables; at most 100"),
        ("no-cmap.ttf", with_table_renamed(font, b"cmap", b"xmap"), 422, "MEDIA_INVALID", "lacks tables every font needs: cmap"),
        ("bad-cmap.ttf", with_table_scrambled(font, b"cmap"), 422, "MEDIA_INVALID", "tables cannot be read"),
        ("bad-name.ttf", with_table_scrambled(font, b"name"), 422, "MEDIA_INVALID", "names no family"),
        (
            "bad-head.ttf",
            with_table_scrambled(font, b"head"),
            422,
            "MEDIA_INVALID",
            "FreeType, which draws the slides, cannot use",
        ),
        ("big.ttf", font + b"\0" * MAX_BYTES, 413, "PAYLOAD_TOO_LARGE", "MEDIA_MAX_BYTES"),
    ]


def audio_rows() -> list:
    wav = encoded_audio("wav", "pcm_s16le")
    flac = encoded_audio("flac", "flac")
    opus = encoded_audio("ogg", "libopus")
    m4a = encoded_audio("ipod", "aac")
    rows = [
        ("noise.mp3", b"\0\0" + random.Random(27).randbytes(4096), 415, "UNSUPPORTED_MEDIA_TYPE", "not a PNG, JPEG or WebP"),
        ("adpcm.wav", encoded_audio("wav", "adpcm_ms"), 415, "UNSUPPORTED_MEDIA_TYPE", "adpcm_ms"),
        ("cut.wav", wav[: len(wav) // 2], 422, "MEDIA_INVALID", "truncated: its header claims 0:01"),
        ("cut.flac", flac[: len(flac) // 2], 422, "MEDIA_INVALID", "truncated or corrupt"),
        ("cut.ogg", opus[: len(opus) // 2], 422, "MEDIA_INVALID", "header cannot be read"),
        ("cut.m4a", m4a[: len(m4a) // 2], 422, "MEDIA_INVALID", "header cannot be read"),
        ("hours.wav", wav_claiming(10 * 3600 * 8_000), 422, "MEDIA_TOO_LARGE", "claims 10:00:00; at most 0:05"),
        ("hours.flac", flac_claiming(flac, 48_000 * 36_000), 422, "MEDIA_TOO_LARGE", "claims 10:00:00; at most 0:05"),
        (
            "bomb.flac",
            flac_claiming(encoded_audio("flac", "flac", seconds=20, silent=True), 48_000),
            422,
            "MEDIA_TOO_LARGE",
            "decodes to more than 0:05 (its header claims 0:01)",
        ),
        ("long.ogg", encoded_audio("ogg", "libopus", seconds=8), 422, "MEDIA_TOO_LARGE", "claims 0:08; at most 0:05"),
        ("surround.ogg", encoded_audio("ogg", "libopus", layout="3.0"), 422, "MEDIA_INVALID", "stream has 3 channels; at most 2"),
        ("low.wav", encoded_audio("wav", "pcm_s16le", rate=4_000, layout="mono"), 422, "MEDIA_INVALID", "sampled at 4,000 Hz"),
        ("high.wav", encoded_audio("wav", "pcm_s16le", rate=384_000, layout="mono"), 422, "MEDIA_INVALID", "384,000 Hz"),
        ("film.mp4", mp4_with_video(), 422, "MEDIA_INVALID", "has a video track"),
        ("big.flac", b"fLaC" + b"\0" * MAX_AUDIO_BYTES, 413, "PAYLOAD_TOO_LARGE", "MEDIA_MAX_AUDIO_BYTES"),
    ]
    if "libmp3lame" in av.codecs_available:
        mp3 = encoded_audio("mp3", "libmp3lame")
        rows.append(("hours.mp3", mp3_claiming(mp3, 36_000 * 48_000 // 1152), 422, "MEDIA_TOO_LARGE", "claims 10:00:00"))
    return rows


@pytest.mark.parametrize(
    ("name", "data", "status", "error_code", "named"),
    font_rows() + audio_rows(),
    ids=lambda value: value if isinstance(value, str) and "." in value else None,
)
def test_bad_fonts_and_audio_are_refused_with_their_code_and_nothing_is_stored(limited, name, data, status, error_code, named):
    video_id = new_video_id("refused")
    with limited.client(timeout=60) as http:
        response = upload(http, video_id, data, name)
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error_code"] == error_code, body
        assert named in body["message"], body
        assert http.get(f"/api/v2/videos/{video_id}/media").json()["total"] == 0
        assert not (limited.asset_dir / video_id).exists(), "a refused upload left files"
        assert http.get("/healthz").status_code == 200


# Named by scripts


def test_a_script_names_audio_as_its_music_and_images_as_slides_only(limited):
    video_id = new_video_id("music")
    with limited.client(timeout=30) as http:
        song = upload(http, video_id, encoded_audio("ogg", "libopus")).json()["media_id"]
        font = upload(http, video_id, latin_font()).json()["media_id"]

        def saved(script_id: str, scene: dict, music: str) -> httpx.Response:
            script = {"title": "t", "scenes": [{"narration": "음악", **scene}], "music": {"media": music}}
            return http.put(f"/api/v2/videos/{video_id}/scripts/{script_id}", json=script)

        assert saved("fine", {}, song).status_code == 201
        for script_id, scene, music, field, problem in (
            ("font-music", {}, font, "$.music.media", "is a font, not audio"),
            ("song-slide", {"slide": {"image": song}}, song, "$.scenes[0].slide.image", "is audio, not an image"),
            ("no-music", {}, "med-" + "0" * 32, "$.music.media", "upload the audio first"),
        ):
            response = saved(script_id, scene, music)
            assert response.status_code == 422, response.text
            body = response.json()
            assert body["error_code"] == "VALIDATION_ERROR"
            error = body["detail"]["errors"][0]
            assert error["field"] == field and problem in error["message"], body

"""The asset route: content types, byte ranges, validators, HEAD, and no way out of ASSET_DIR."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import TestClient
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.api.assets.controller import AssetFilesController, locate_asset_file
from services.api.errors import AssetNotFound
from services.api.http_errors import EXCEPTION_HANDLERS
from services.api.settings import Settings

VIDEO_BYTES = bytes(range(256)) * 40  # 10,240 bytes in which any off-by-one slice shows
SECRET = b"outside the asset root"


@pytest.fixture
def asset_dir(tmp_path: Path) -> Path:
    """ASSET_DIR two levels below tmp_path, so `../../secret.txt` from a job folder hits a real file."""
    root = tmp_path / "data" / "assets"
    job_dir = root / "video-001" / "job-1"
    job_dir.mkdir(parents=True)
    (job_dir / "video.mp4").write_bytes(VIDEO_BYTES)
    (job_dir / "subtitles.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\n안녕하세요\n", encoding="utf-8")
    (job_dir / "subtitles.vtt").write_text("WEBVTT\n", encoding="utf-8")
    (job_dir / "thumbnail.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (job_dir / "empty.mp4").write_bytes(b"")
    (job_dir / ".hidden").write_bytes(SECRET)
    staging_dir = root / ".staging" / "job-2"
    staging_dir.mkdir(parents=True)
    (staging_dir / "video.mp4").write_bytes(SECRET)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (job_dir / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (root / "video-001" / "linked-job").symlink_to(tmp_path, target_is_directory=True)
    return root


def build_app(asset_dir: Path, sent_body: list[bytes] | None = None) -> Litestar:
    settings = Settings(asset_dir=asset_dir)
    return Litestar(
        route_handlers=[AssetFilesController],
        dependencies={"settings": Provide(lambda: settings, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[] if sent_body is None else [recording_body_into(sent_body)],
    )


def recording_body_into(sent_body: list[bytes]) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware keeping every body chunk the app sends: the test client drops HEAD bodies itself, as servers do."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def recording_app(scope: Scope, receive: Receive, send: Send) -> None:
            async def recording_send(message: Message) -> None:
                if message["type"] == "http.response.body":
                    sent_body.append(message.get("body", b""))
                await send(message)

            await app(scope, receive, recording_send)

        return recording_app

    return middleware


@pytest.fixture
def client(asset_dir: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(build_app(asset_dir)) as test_client:
        yield test_client


VIDEO_URL = "/assets/video-001/job-1/video.mp4"


@pytest.mark.parametrize(
    ("file_name", "content_type"),
    [
        ("video.mp4", "video/mp4"),
        ("subtitles.srt", "application/x-subrip"),
        ("subtitles.vtt", "text/vtt; charset=utf-8"),
        ("thumbnail.jpg", "image/jpeg"),
    ],
)
def test_whole_file_is_served_with_its_content_type(
    client: TestClient[Litestar],
    asset_dir: Path,
    file_name: str,
    content_type: str,
) -> None:
    response = client.get(f"/assets/video-001/job-1/{file_name}")

    assert response.status_code == 200
    assert response.content == (asset_dir / "video-001" / "job-1" / file_name).read_bytes()
    assert response.headers["content-type"] == content_type
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    assert "immutable" in response.headers["cache-control"]


def test_bounded_range_gets_206_with_exactly_those_bytes(client: TestClient[Litestar]) -> None:
    response = client.get(VIDEO_URL, headers={"Range": "bytes=100-199"})

    assert response.status_code == 206
    assert response.content == VIDEO_BYTES[100:200]
    assert response.headers["content-range"] == f"bytes 100-199/{len(VIDEO_BYTES)}"
    assert response.headers["content-length"] == "100"
    assert response.headers["content-type"] == "video/mp4"


def test_suffix_range_gets_the_last_bytes(client: TestClient[Litestar]) -> None:
    response = client.get(VIDEO_URL, headers={"Range": "bytes=-500"})

    assert response.status_code == 206
    assert response.content == VIDEO_BYTES[-500:]
    size = len(VIDEO_BYTES)
    assert response.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"


def test_open_ended_range_runs_to_the_end(client: TestClient[Litestar]) -> None:
    response = client.get(VIDEO_URL, headers={"Range": "bytes=10000-"})

    assert response.status_code == 206
    assert response.content == VIDEO_BYTES[10000:]
    assert response.headers["content-range"] == f"bytes 10000-{len(VIDEO_BYTES) - 1}/{len(VIDEO_BYTES)}"


def test_range_past_the_end_is_clamped_to_the_file(client: TestClient[Litestar]) -> None:
    response = client.get(VIDEO_URL, headers={"Range": "bytes=10200-99999"})

    assert response.status_code == 206
    assert response.content == VIDEO_BYTES[10200:]


def test_range_larger_than_one_chunk_streams_whole(client: TestClient[Litestar], asset_dir: Path) -> None:
    big = os.urandom(1_000_000)
    (asset_dir / "video-001" / "job-1" / "big.mp4").write_bytes(big)

    response = client.get("/assets/video-001/job-1/big.mp4", headers={"Range": "bytes=1-900000"})

    assert response.status_code == 206
    assert response.content == big[1:900001]


@pytest.mark.parametrize(
    ("file_name", "range_header"),
    [("video.mp4", f"bytes={len(VIDEO_BYTES)}-"), ("video.mp4", "bytes=-0"), ("empty.mp4", "bytes=-5")],
)
def test_unsatisfiable_range_gets_416_with_the_file_size(
    client: TestClient[Litestar],
    asset_dir: Path,
    file_name: str,
    range_header: str,
) -> None:
    response = client.get(f"/assets/video-001/job-1/{file_name}", headers={"Range": range_header})

    size = (asset_dir / "video-001" / "job-1" / file_name).stat().st_size
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.json()["error_code"] == "RANGE_NOT_SATISFIABLE"


@pytest.mark.parametrize(
    "range_header",
    ["bytes=0-9, 20-29", "items=0-9", "bytes=9-0", "bytes=abc", "bytes=-"],
    ids=["several ranges", "other unit", "reversed", "garbage", "empty"],
)
def test_ranges_we_do_not_answer_get_the_whole_file(client: TestClient[Litestar], range_header: str) -> None:
    response = client.get(VIDEO_URL, headers={"Range": range_header})

    assert response.status_code == 200
    assert response.content == VIDEO_BYTES


def test_matching_if_none_match_gets_304_without_body(client: TestClient[Litestar]) -> None:
    etag = client.get(VIDEO_URL).headers["etag"]

    response = client.get(VIDEO_URL, headers={"If-None-Match": f'"other", W/{etag}'})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_stale_if_none_match_gets_the_file(client: TestClient[Litestar]) -> None:
    response = client.get(VIDEO_URL, headers={"If-None-Match": '"stale"'})

    assert response.status_code == 200
    assert response.content == VIDEO_BYTES


def test_changed_file_gets_a_new_etag(client: TestClient[Litestar], asset_dir: Path) -> None:
    etag = client.get(VIDEO_URL).headers["etag"]
    (asset_dir / "video-001" / "job-1" / "video.mp4").write_bytes(VIDEO_BYTES + b"more")

    assert client.get(VIDEO_URL).headers["etag"] != etag


def test_if_range_with_current_validator_gets_the_range(client: TestClient[Litestar]) -> None:
    whole = client.get(VIDEO_URL)

    for validator in (whole.headers["etag"], whole.headers["last-modified"]):
        response = client.get(VIDEO_URL, headers={"Range": "bytes=0-9", "If-Range": validator})
        assert response.status_code == 206
        assert response.content == VIDEO_BYTES[:10]


@pytest.mark.parametrize("validator", ['"stale"', "Thu, 01 Jan 1970 00:00:00 GMT"])
def test_if_range_with_stale_validator_gets_the_whole_file(client: TestClient[Litestar], validator: str) -> None:
    response = client.get(VIDEO_URL, headers={"Range": "bytes=0-9", "If-Range": validator})

    assert response.status_code == 200
    assert response.content == VIDEO_BYTES


def test_head_gets_headers_without_body(client: TestClient[Litestar]) -> None:
    response = client.head(VIDEO_URL, headers={"Range": "bytes=0-9"})

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(VIDEO_BYTES))
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert "etag" in response.headers


def test_head_does_not_send_the_file(asset_dir: Path) -> None:
    sent_body: list[bytes] = []
    with TestClient(build_app(asset_dir, sent_body)) as test_client:
        test_client.head(VIDEO_URL)

    assert b"".join(sent_body) == b""


def test_missing_file_is_asset_not_found(client: TestClient[Litestar]) -> None:
    response = client.get("/assets/video-001/job-1/nope.mp4")

    assert response.status_code == 404
    assert response.json()["error_code"] == "ASSET_NOT_FOUND"


def test_folder_is_not_a_file(client: TestClient[Litestar], asset_dir: Path) -> None:
    (asset_dir / "video-001" / "job-1" / "folder").mkdir()

    response = client.get("/assets/video-001/job-1/folder")

    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/video-001/%2e%2e/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/assets/%252e%252e/%252e%252e/secret.txt",
        "/assets/video-001/job-1/%2Fetc%2Fpasswd",
        "/assets/video-001/job-1/%5C..%5C..%5Csecret.txt",
        "/assets/video-001/job-1/leak.txt",
        "/assets/video-001/linked-job/secret.txt",
        "/assets/video-001/job-1/video.mp4%00",
        "/assets/video-001/job-1/.hidden",
        "/assets/.staging/job-2/video.mp4",
    ],
    ids=[
        "dot-dot", "encoded slash", "double encoded", "absolute", "backslash",
        "symlinked file", "symlinked folder", "NUL", "dot-file", "staging",
    ],
)
def test_nothing_outside_the_published_files_is_served(client: TestClient[Litestar], url: str) -> None:
    response = client.get(url)

    assert response.status_code == 404
    assert SECRET not in response.content


@pytest.mark.parametrize(
    "segments",
    [
        ("..", "..", "secret.txt"),
        ("video-001", "job-1", "../../../secret.txt"),
        ("video-001", "job-1", "/etc/passwd"),
        ("video-001", "job-1", "..\\secret.txt"),
        ("video-001", "job-1", "leak.txt"),
        ("video-001", "linked-job", "secret.txt"),
        ("video-001", "job-1", "video.mp4\0"),
        ("video-001", "job-1", ".hidden"),
        (".staging", "job-2", "video.mp4"),
        ("video-001", "job-1", ""),
    ],
    ids=[
        "dot-dot", "slash", "absolute", "backslash", "symlinked file",
        "symlinked folder", "NUL", "dot-file", "staging", "empty",
    ],
)
def test_locate_asset_file_refuses_anything_but_a_file_inside_the_root(asset_dir: Path, segments: tuple[str, ...]) -> None:
    with pytest.raises(AssetNotFound):
        locate_asset_file(asset_dir, *segments)


def test_locate_asset_file_finds_a_published_file(asset_dir: Path) -> None:
    path, file_stat = locate_asset_file(asset_dir, "video-001", "job-1", "video.mp4")

    assert path == (asset_dir / "video-001" / "job-1" / "video.mp4").resolve()
    assert file_stat.st_size == len(VIDEO_BYTES)

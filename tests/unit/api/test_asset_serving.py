"""The asset route: content types, byte ranges, validators, HEAD, no way out of ASSET_DIR, files of
SUCCEEDED jobs only, and expiring signatures when ASSET_SIGNING_KEY is set."""

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import TestClient
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from libs.contracts.codes import JobStatus
from libs.storage.local import LocalFolderStore
from services.api.assets.controller import AssetFilesController
from services.api.assets.signing import signed_query
from services.api.db.engine import open_database
from services.api.db.migrate import upgrade_to_head
from services.api.db.models import JobRow, utc_now
from services.api.http_errors import EXCEPTION_HANDLERS
from services.api.jobs.store import JobStore
from services.api.jobs.views import asset_links
from services.api.settings import Settings

VIDEO_BYTES = bytes(range(256)) * 40  # 10,240 bytes in which any off-by-one slice shows
SECRET = b"outside the asset root"

# job id -> (video id, status): the rows the asset route looks up. Every job has a folder with a
# video (the asset_dir fixture), so a 404 for one of them comes from the job rule, not a missing file.
JOBS = {
    "job-1": ("video-001", JobStatus.SUCCEEDED),
    "linked-job": ("video-001", JobStatus.SUCCEEDED),
    "job-pending": ("video-001", JobStatus.PENDING),
    "job-running": ("video-003", JobStatus.RUNNING),  # one active job per video, so another video
    "job-failed": ("video-001", JobStatus.FAILED),
    "job-canceled": ("video-001", JobStatus.CANCELED),
    "job-of-video-002": ("video-002", JobStatus.SUCCEEDED),
}


@pytest.fixture
def asset_dir(tmp_path: Path, jobs_db_template: Path) -> Path:
    """ASSET_DIR two levels below tmp_path, so `../../secret.txt` from a job folder hits a real file;
    the jobs database lies beside it."""
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
    for job_id, (video_id, _) in JOBS.items():
        if not (root / video_id / job_id).exists():
            (root / video_id / job_id).mkdir(parents=True)
            (root / video_id / job_id / "video.mp4").write_bytes(VIDEO_BYTES)
    shutil.copyfile(jobs_db_template, root.parent / "jobs.db")
    return root


def jobs_db_url(asset_dir: Path) -> str:
    return f"sqlite:///{asset_dir.parent / 'jobs.db'}"


async def create_jobs_db(url: str) -> None:
    db = open_database(url)
    await upgrade_to_head(db)
    async with db.write_session() as session, session.begin():
        session.add_all(
            JobRow(
                job_id=job_id,
                video_id=video_id,
                script_id="script-001",
                status=status,
                max_attempts=1,
                created_by="tests",
                created_at=utc_now(),
                updated_at=utc_now(),
            )
            for job_id, (video_id, status) in JOBS.items()
        )
    await db.dispose()


@pytest.fixture(scope="module")
def jobs_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real migrated SQLite holding JOBS, made once: each test gets a copy, as migrating per
    test would be most of this module's runtime."""
    asset_dir = tmp_path_factory.mktemp("template") / "assets"
    asyncio.run(create_jobs_db(jobs_db_url(asset_dir)))
    return asset_dir.parent / "jobs.db"


def build_app(asset_dir: Path, sent_body: list[bytes] | None = None, signing_key: str | None = None) -> Litestar:
    settings = Settings(asset_dir=asset_dir, public_base_url="http://testserver", asset_signing_key=signing_key)

    @asynccontextmanager
    async def job_store(app: Litestar) -> AsyncIterator[None]:
        # Opened here, on the app's own event loop, which the test client runs.
        db = open_database(jobs_db_url(asset_dir))
        app.state.jobs = JobStore(db)
        try:
            yield
        finally:
            await db.dispose()

    def jobs(state: State) -> JobStore:
        return state.jobs

    return Litestar(
        route_handlers=[AssetFilesController],
        lifespan=[job_store],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "jobs": Provide(jobs, sync_to_thread=False),
            "store": Provide(lambda: LocalFolderStore(asset_dir), sync_to_thread=False),
        },
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
        "dot-dot",
        "encoded slash",
        "double encoded",
        "absolute",
        "backslash",
        "symlinked file",
        "symlinked folder",
        "NUL",
        "dot-file",
        "staging",
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
        "dot-dot",
        "slash",
        "absolute",
        "backslash",
        "symlinked file",
        "symlinked folder",
        "NUL",
        "dot-file",
        "staging",
        "empty",
    ],
)
def test_the_local_store_finds_nothing_but_a_file_inside_the_root(asset_dir: Path, segments: tuple[str, ...]) -> None:
    video_id, job_id, name = segments
    assert asyncio.run(LocalFolderStore(asset_dir).find(f"{video_id}/{job_id}", name)) is None


def test_the_local_store_finds_a_published_file(asset_dir: Path) -> None:
    found = asyncio.run(LocalFolderStore(asset_dir).find("video-001/job-1", "video.mp4"))

    assert found is not None and found.local_path == (asset_dir / "video-001" / "job-1" / "video.mp4").resolve()
    assert found.size == len(VIDEO_BYTES)


@pytest.mark.parametrize(
    "job_id",
    ["job-pending", "job-running", "job-failed", "job-canceled", "job-unknown"],
)
def test_files_of_jobs_that_did_not_succeed_are_not_found(client: TestClient[Litestar], asset_dir: Path, job_id: str) -> None:
    # The file exists in every case (asset_dir makes one for each of JOBS), so the 404 is the job rule's.
    video_id, _ = JOBS.get(job_id, ("video-001", None))
    (asset_dir / video_id / job_id).mkdir(exist_ok=True)
    (asset_dir / video_id / job_id / "video.mp4").write_bytes(VIDEO_BYTES)

    response = client.get(f"/assets/{video_id}/{job_id}/video.mp4")

    assert response.status_code == 404
    assert response.json()["error_code"] == "ASSET_NOT_FOUND"


def test_files_are_reachable_only_under_the_jobs_own_video(client: TestClient[Litestar], asset_dir: Path) -> None:
    # A folder for the job under another video (a copy, or a crafted link) does not make it reachable.
    (asset_dir / "video-001" / "job-of-video-002").mkdir()
    (asset_dir / "video-001" / "job-of-video-002" / "video.mp4").write_bytes(VIDEO_BYTES)

    assert client.get("/assets/video-002/job-of-video-002/video.mp4").status_code == 200
    assert client.get("/assets/video-001/job-of-video-002/video.mp4").status_code == 404


SIGNING_KEY = "unit-test-asset-key"
VIDEO_PATH = "video-001/job-1/video.mp4"


@pytest.fixture
def signed_client(asset_dir: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(build_app(asset_dir, signing_key=SIGNING_KEY)) as test_client:
        yield test_client


def test_asset_links_are_signed_and_each_one_is_served(signed_client: TestClient[Litestar]) -> None:
    links = asset_links(
        Settings(public_base_url="http://testserver", asset_signing_key=SIGNING_KEY, asset_url_ttl_sec=60),
        "video-001",
        "job-1",
        {"duration_sec": 1.0},
    )

    assert links.video_url.startswith(f"http://testserver/assets/{VIDEO_PATH}?expires=")
    for url in (links.video_url, links.subtitle_url, links.vtt_url, links.thumbnail_url):
        assert signed_client.get(url).status_code == 200, url


def test_signed_url_serves_byte_ranges(signed_client: TestClient[Litestar]) -> None:
    response = signed_client.get(
        f"/assets/{VIDEO_PATH}?{signed_query(SIGNING_KEY, 60, VIDEO_PATH)}", headers={"Range": "bytes=0-9"}
    )

    assert response.status_code == 206
    assert response.content == VIDEO_BYTES[:10]


@pytest.mark.parametrize(
    "query",
    [
        "",
        signed_query(SIGNING_KEY, 60, "video-001/job-1/subtitles.srt"),
        signed_query(SIGNING_KEY, 60, VIDEO_PATH, now=time.time() - 61),
        signed_query("another key", 60, VIDEO_PATH),
        signed_query(SIGNING_KEY, 60, VIDEO_PATH).partition("&")[2],
        signed_query(SIGNING_KEY, 60, VIDEO_PATH).partition("&")[0],
        "expires=99999999999&sig=" + signed_query(SIGNING_KEY, 60, VIDEO_PATH).partition("sig=")[2],
        "expires=soon&sig=00",
        "expires=99999999999&sig=%C3%A9",
    ],
    ids=[
        "unsigned",
        "signed for another file",
        "expired",
        "wrong key",
        "no expires",
        "no sig",
        "expiry pushed out",
        "garbage expires",
        "non-ASCII sig",
    ],
)
def test_video_without_a_valid_signature_is_forbidden(signed_client: TestClient[Litestar], query: str) -> None:
    response = signed_client.get(f"/assets/{VIDEO_PATH}?{query}", headers={"Range": "bytes=0-9"})

    assert response.status_code == 403
    assert response.json()["error_code"] == "FORBIDDEN"
    assert VIDEO_BYTES[:10] not in response.content


def test_valid_signature_does_not_reach_a_job_that_did_not_succeed(signed_client: TestClient[Litestar]) -> None:
    path = "video-001/job-failed/video.mp4"

    assert signed_client.get(f"/assets/{path}?{signed_query(SIGNING_KEY, 60, path)}").status_code == 404

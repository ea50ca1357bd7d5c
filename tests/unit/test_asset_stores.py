"""Both asset stores behind one interface: the local folder, and S3 against a real S3 API server
(moto). The same publish, find, read, delete and sweep rules hold for each."""

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import obstore
import pytest
from obstore.store import S3Store

from libs.storage import StorageError, open_asset_store
from libs.storage.base import AssetStore
from libs.storage.s3 import MANIFEST
from tests.s3_server import CREDENTIALS, S3Server, running_s3_server

pytestmark = pytest.mark.anyio
KEY = "video-1/job-1"
BIG = os.urandom(6 * 1024 * 1024 + 17)
"""Past obstore's 5 MB part size, so the upload is multipart."""


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> S3Server:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> AssetStore:
    if request.param == "local":
        return open_asset_store("", tmp_path / "assets")
    server = request.getfixturevalue("s3_env")
    bucket = f"assets-{request.node.name.split('[')[0][-30:].replace('_', '-')}-{os.urandom(3).hex()}"
    server.create_bucket(bucket)
    return open_asset_store(f"s3://{bucket}/tenant/renders", tmp_path / "scratch", endpoint_url=server.endpoint_url)


def stage(store: AssetStore, content: bytes) -> Path:
    staging = store.staging(KEY)
    (staging / "video.mp4").write_bytes(content)
    (staging / "subtitles.vtt").write_bytes(b"WEBVTT\n")
    return staging


async def read_all(store: AssetStore, name: str, start: int, length: int) -> bytes:
    return b"".join([chunk async for chunk in store.read(KEY, name, start, length)])


async def test_a_published_set_is_found_and_read_in_ranges(store):
    assert await store.find(KEY, "video.mp4") is None
    staging = stage(store, BIG)
    store.publish(staging, KEY)
    assert not staging.exists()
    found = await store.find(KEY, "video.mp4")
    assert found is not None and found.size == len(BIG) and found.etag
    assert await read_all(store, "video.mp4", 0, len(BIG)) == BIG
    assert await read_all(store, "video.mp4", 5_000_000, 1_000_000) == BIG[5_000_000:6_000_000]
    assert await read_all(store, "video.mp4", len(BIG) - 1, 1) == BIG[-1:]
    assert await store.find(KEY, "missing.txt") is None
    assert await store.find("video-1/job-2", "video.mp4") is None


async def test_publishing_a_key_twice_keeps_the_first_complete_set(store):
    store.publish(stage(store, b"first"), KEY)
    store.publish(stage(store, b"second"), KEY)
    assert await read_all(store, "video.mp4", 0, 5) == b"first"


@pytest.mark.parametrize("name", ["../x", ".staging", "a/b", "", "video.mp4\0"])
async def test_names_and_keys_that_could_leave_the_store_find_nothing(store, name):
    store.publish(stage(store, b"x"), KEY)
    assert await store.find(KEY, name) is None
    assert await store.find(f"../{KEY}", "video.mp4") is None


async def test_delete_removes_a_published_set(store):
    store.publish(stage(store, b"x"), KEY)
    await store.delete([KEY])
    assert await store.find(KEY, "video.mp4") is None


async def test_a_discarded_staging_folder_is_gone(store):
    staging = stage(store, b"x")
    store.discard(staging)
    store.discard(staging)
    assert not staging.exists()


async def test_the_sweep_removes_old_unpublished_uploads_and_keeps_the_published_set(s3_env, tmp_path):
    s3_env.create_bucket("sweep")
    store = open_asset_store("s3://sweep", tmp_path, endpoint_url=s3_env.endpoint_url)
    raw = S3Store("sweep", config={"endpoint": s3_env.endpoint_url}, client_options={"allow_http": True})
    store.publish(stage(store, b"published"), KEY)
    # What a renderer killed mid-upload leaves: files of an upload that no manifest names.
    obstore.put(raw, f"{KEY}/upload-dead/video.mp4", b"partial")
    obstore.put(raw, "video-2/job-9/upload-dead/video.mp4", b"partial")

    assert await store.sweep_staging(timedelta(hours=1)) == [], "young uploads may still be publishing"
    removed = await store.sweep_staging(timedelta(0))
    assert sorted(removed) == [f"{KEY}/upload-dead", "video-2/job-9/upload-dead"]
    remaining = sorted(meta["path"] for batch in obstore.list(raw) for meta in batch)
    assert f"{KEY}/{MANIFEST}" in remaining and all("upload-dead" not in path for path in remaining)
    assert await read_all(store, "video.mp4", 0, 9) == b"published"


async def test_an_unreachable_store_fails_typed_and_publishes_nothing(s3_env, tmp_path):
    # The discard port: nothing listens there.
    store = open_asset_store("s3://nowhere", tmp_path, endpoint_url="http://127.0.0.1:9", timeout_sec=5)
    staging = stage(store, b"x")
    with pytest.raises(StorageError):
        store.publish(staging, KEY)
    with pytest.raises(StorageError):
        await store.check()


async def test_a_missing_bucket_fails_the_check_and_the_publish(s3_env, tmp_path):
    store = open_asset_store("s3://no-such-bucket", tmp_path, endpoint_url=s3_env.endpoint_url)
    with pytest.raises(StorageError):
        await store.check()
    with pytest.raises(StorageError):
        store.publish(stage(store, b"x"), KEY)


async def test_refused_credentials_fail_the_check_and_the_publish(tmp_path, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with running_s3_server(refuse_credentials=True) as server:
        store = open_asset_store("s3://assets", tmp_path, endpoint_url=server.endpoint_url, timeout_sec=10)
        with pytest.raises(StorageError, match="check failed"):
            await store.check()
        with pytest.raises(StorageError, match="upload failed"):
            store.publish(stage(store, b"x"), KEY)


@pytest.mark.parametrize("url", ["http://bucket/x", "s3://", "s3://bucket/x?y=1", "file:///tmp"])
def test_store_urls_other_than_s3_are_refused(tmp_path, url):
    with pytest.raises(ValueError):
        open_asset_store(url, tmp_path)


# --- fetch: the renderer's blocking read of a published file (an uploaded picture) ----------

from libs.storage.base import StoredFileMissing  # noqa: E402
from libs.storage.local import LocalFolderStore  # noqa: E402


def test_fetch_gives_a_local_path_with_the_published_bytes(store, tmp_path):
    store.publish(stage(store, BIG), KEY)
    into = tmp_path / "job-work" / "pictures"
    path = store.fetch(KEY, "video.mp4", into)
    assert path.read_bytes() == BIG
    if isinstance(store, LocalFolderStore):
        assert path.is_relative_to(store.asset_dir.resolve()) and not into.exists(), "read in place, not copied"
    else:
        assert path == into / "video.mp4"


@pytest.mark.parametrize(
    ("key", "name"),
    [(KEY, "missing.txt"), ("video-1/job-2", "video.mp4"), (KEY, "../x"), (KEY, ".staging"), (f"../{KEY}", "video.mp4")],
)
def test_fetching_what_was_never_published_is_a_missing_file(store, tmp_path, key, name):
    store.publish(stage(store, b"x"), KEY)
    with pytest.raises(StoredFileMissing):
        store.fetch(key, name, tmp_path / "into")
    assert not (tmp_path / "into").exists() or not any((tmp_path / "into").iterdir())


def test_an_unpublished_staging_set_cannot_be_fetched(store, tmp_path):
    stage(store, b"x")
    with pytest.raises(StoredFileMissing):
        store.fetch(KEY, "video.mp4", tmp_path / "into")


def test_fetch_from_an_unreachable_store_is_a_transient_storage_error(s3_env, tmp_path):
    store = open_asset_store("s3://nowhere", tmp_path, endpoint_url="http://127.0.0.1:9", timeout_sec=5)
    with pytest.raises(StorageError) as failure:
        store.fetch(KEY, "video.mp4", tmp_path / "into")
    assert not isinstance(failure.value, StoredFileMissing)

"""The S3 backend (`ASSET_STORE=s3://bucket/prefix`), for renderers on hosts that share no disk.

Layout under the prefix, per job key `{video_id}/{job_id}`:
- `{key}/{upload}/{file}`: one renderer attempt's upload, `upload` random per attempt;
- `{key}/manifest.json`: written last and only if absent (`If-None-Match: *`), it names the
  upload that is the published set, with each file's size and ETag.

An object store has no rename, so the manifest is what publishes: until it exists nothing of
the job is served, and once it exists no later or duplicate attempt can replace it (their put
gets 412 and they delete their own upload). An upload no manifest names is left by a renderer
that died, or lost a race, mid-publish; `sweep_staging` removes it once it is old.

Client: obstore (research/scale.md §4) — native async for the API, a blocking API for the
renderer's thread, multipart above 5 MB done for it, conditional put, and typed errors.
"""

import logging
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import msgspec
import obstore
from obstore import Bytes
from obstore.exceptions import AlreadyExistsError, BaseError
from obstore.store import S3Store

if TYPE_CHECKING:
    from obstore.store import S3Config  # a TypedDict of the type stubs, not importable at run time

from libs.storage.base import StorageError, StoredFile, StoredFileMissing, key_parts, new_staging_folder

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
UPLOAD_PREFIX = "upload-"
READ_CHUNK_SIZE = 256 * 1024
MANIFEST_CACHE_SIZE = 4096
"""Manifests never change once written, so the API keeps the most recent ones in memory."""
CONNECT_TIMEOUT_SEC = 5.0
RETRIES = 3

Observer = Callable[[str, str], None]
"""(operation, "ok" | "error"): how the API counts store operations on /metrics."""


class ManifestFile(msgspec.Struct, frozen=True):
    size: int
    etag: str


class Manifest(msgspec.Struct, frozen=True):
    upload: str
    files: dict[str, ManifestFile]
    published_at: float


_MANIFEST_CODEC = (msgspec.json.Encoder(), msgspec.json.Decoder(Manifest))


class S3AssetStore:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None,
        scratch_dir: Path,
        timeout_sec: float,
        observe: Observer | None = None,
    ) -> None:
        self._prefix = PurePosixPath(*key_parts(prefix)).as_posix() if prefix else ""
        self._scratch_dir = scratch_dir
        """Where the renderer stages a job's files before uploading them."""
        self._observe = observe or (lambda operation, outcome: None)
        self._manifests: OrderedDict[str, Manifest] = OrderedDict()
        self._manifests_lock = threading.Lock()
        """The cache is shared by the event loop (find, read) and blocking callers on threads (fetch)."""
        config: S3Config = {"endpoint": endpoint_url} if endpoint_url else {}
        # The standard AWS_* variables (credentials, region) are read by obstore itself. A store
        # that does not answer within `timeout_sec`, retries included, fails the operation: a
        # render then fails STORAGE_FAILED and is retried with backoff, a request gets 503.
        timeout = timedelta(seconds=timeout_sec)
        self._store = S3Store(
            bucket,
            config=config,
            client_options={
                "allow_http": bool(endpoint_url and endpoint_url.startswith("http://")),
                "timeout": timeout,
                "connect_timeout": timedelta(seconds=min(CONNECT_TIMEOUT_SEC, timeout_sec)),
            },
            retry_config={"max_retries": RETRIES, "retry_timeout": timeout},
        )
        self.location = f"s3://{bucket}/{self._prefix}"

    # --- renderer side ---------------------------------------------------------------------

    def staging(self, key: str) -> Path:
        return new_staging_folder(self._scratch_dir, key)

    def publish(self, staging_dir: Path, key: str) -> None:
        job_root = self._job_root(key)
        upload = f"{UPLOAD_PREFIX}{secrets.token_hex(8)}"
        uploaded: list[str] = []
        files: dict[str, ManifestFile] = {}
        try:
            with self._operation("upload"):
                for path in sorted(staging_dir.iterdir()):
                    if not path.is_file() or path.name.startswith("."):
                        continue  # the pipeline's own scratch, never an asset
                    location = f"{job_root}/{upload}/{path.name}"
                    uploaded.append(location)
                    etag = obstore.put(self._store, location, path)["e_tag"]
                    if etag is None:
                        raise StorageError(f"{self.location}: the store gave no ETag for {location}")
                    files[path.name] = ManifestFile(size=path.stat().st_size, etag=etag.strip('"'))
            manifest = Manifest(upload=upload, files=files, published_at=time.time())
            with self._operation("publish"):
                obstore.put(self._store, f"{job_root}/{MANIFEST}", _MANIFEST_CODEC[0].encode(manifest), mode="create")
        except AlreadyExistsError:
            log.info("%s was already published; the set of this attempt is discarded", key)
            self._delete_quietly(uploaded)
        except StorageError:
            self._delete_quietly(uploaded)  # what is left, the sweep removes
            raise
        shutil.rmtree(staging_dir, ignore_errors=True)

    def discard(self, staging_dir: Path) -> None:
        shutil.rmtree(staging_dir, ignore_errors=True)

    def fetch(self, key: str, name: str, into: Path) -> Path:
        manifest = self._manifest_blocking(key)
        entry = manifest.files.get(name) if manifest else None
        if manifest is None or entry is None:
            raise StoredFileMissing(f"{self.location}: nothing published as {name!r} under {key!r}")
        into.mkdir(parents=True, exist_ok=True)
        path = into / name
        try:
            with self._operation("fetch"), path.open("wb") as file:
                result = obstore.get(self._store, f"{self._job_root(key)}/{manifest.upload}/{name}")
                for chunk in result.stream(min_chunk_size=READ_CHUNK_SIZE):
                    file.write(chunk)
                size = file.tell()
            # A short body would otherwise surface later as a broken picture, a failure no retry fixes.
            if size != entry.size:
                raise StorageError(f"{self.location}: fetched {size} of the {entry.size} bytes of {key}/{name}")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    # --- API side --------------------------------------------------------------------------

    async def find(self, key: str, name: str) -> StoredFile | None:
        manifest = await self._manifest(key)
        entry = manifest.files.get(name) if manifest else None
        if manifest is None or entry is None:
            return None
        return StoredFile(size=entry.size, etag=entry.etag, modified=manifest.published_at)

    async def read(self, key: str, name: str, start: int, length: int) -> AsyncIterator[bytes]:
        manifest = await self._manifest(key)
        if manifest is None or name not in manifest.files or length <= 0:
            return
        with self._operation("read"):
            result = await obstore.get_async(
                self._store, f"{self._job_root(key)}/{manifest.upload}/{name}", options={"range": (start, start + length)}
            )
            async for chunk in result.stream(min_chunk_size=READ_CHUNK_SIZE):
                yield bytes(chunk)

    async def delete(self, keys: list[str]) -> None:
        for key in keys:
            with self._manifests_lock:
                self._manifests.pop(key, None)
            with self._operation("delete"):
                locations = [
                    meta["path"] async for batch in obstore.list(self._store, f"{self._job_root(key)}/") for meta in batch
                ]
                if locations:
                    await obstore.delete_async(self._store, locations)

    async def sweep_staging(self, max_age: timedelta) -> list[str]:
        """One listing of the whole prefix: uploads grouped by job, each kept if its job's
        manifest names it or it is younger than `max_age`."""
        cutoff = time.time() - max_age.total_seconds()
        skip = len(PurePosixPath(self._prefix).parts) if self._prefix else 0
        uploads: dict[tuple[str, str], list[str]] = {}
        newest: dict[tuple[str, str], float] = {}
        manifests: set[str] = set()
        with self._operation("list"):
            async for batch in obstore.list(self._store, f"{self._prefix}/" if self._prefix else None):
                for meta in batch:
                    parts = PurePosixPath(meta["path"]).parts[skip:]
                    if len(parts) == 3 and parts[2] == MANIFEST:
                        manifests.add(f"{parts[0]}/{parts[1]}")
                    elif len(parts) == 4 and parts[2].startswith(UPLOAD_PREFIX):
                        job_upload = (f"{parts[0]}/{parts[1]}", parts[2])
                        uploads.setdefault(job_upload, []).append(meta["path"])
                        newest[job_upload] = max(newest.get(job_upload, 0.0), meta["last_modified"].timestamp())
        published = {key: manifest.upload for key in manifests if (manifest := await self._manifest(key))}
        removed = []
        for (key, upload), locations in uploads.items():
            if published.get(key) == upload or newest[(key, upload)] >= cutoff:
                continue
            with self._operation("delete"):
                await obstore.delete_async(self._store, locations)
            removed.append(f"{key}/{upload}")
        return removed

    async def check(self) -> None:
        with self._operation("check"):
            await obstore.list_with_delimiter_async(self._store, f"{self._prefix}/" if self._prefix else None)

    # --- inside ----------------------------------------------------------------------------

    def _job_root(self, key: str) -> str:
        return PurePosixPath(self._prefix, *key_parts(key)).as_posix()

    async def _manifest(self, key: str) -> Manifest | None:
        """The job's manifest, None while it has none (or for a key that is not a job's)."""
        if (cached := self._cached_manifest(key)) is not None:
            return cached
        if (location := self._manifest_location(key)) is None:
            return None
        try:
            with self._operation("manifest"):
                result = await obstore.get_async(self._store, location)
                return self._remember(key, await result.bytes_async())
        except _Missing:
            return None

    def _manifest_blocking(self, key: str) -> Manifest | None:
        """`_manifest` for the renderer's thread."""
        if (cached := self._cached_manifest(key)) is not None:
            return cached
        if (location := self._manifest_location(key)) is None:
            return None
        try:
            with self._operation("manifest"):
                return self._remember(key, obstore.get(self._store, location).bytes())
        except _Missing:
            return None

    def _manifest_location(self, key: str) -> str | None:
        try:
            return f"{self._job_root(key)}/{MANIFEST}"
        except ValueError:
            return None

    def _cached_manifest(self, key: str) -> Manifest | None:
        with self._manifests_lock:
            if (cached := self._manifests.get(key)) is not None:
                self._manifests.move_to_end(key)
            return cached

    def _remember(self, key: str, data: Bytes) -> Manifest:
        """Decodes a manifest that was just read (bytes or any buffer) and caches it."""
        manifest = _MANIFEST_CODEC[1].decode(bytes(data))
        with self._manifests_lock:
            self._manifests[key] = manifest
            if len(self._manifests) > MANIFEST_CACHE_SIZE:
                self._manifests.popitem(last=False)
        return manifest

    def _delete_quietly(self, locations: list[str]) -> None:
        try:
            obstore.delete(self._store, locations)
        except (BaseError, OSError) as error:
            log.warning("could not remove %d uploaded files (the sweep will): %s", len(locations), error)

    @contextmanager
    def _operation(self, name: str) -> Iterator[None]:
        """Counts the operation; any failure of the store becomes StorageError, except a missing
        object where one may be missing (`_Missing`)."""
        try:
            yield
        except FileNotFoundError as error:  # obstore raises the builtin for a missing object
            self._observe(name, "ok" if name == "manifest" else "error")
            if name == "manifest":
                raise _Missing from error
            raise StorageError(f"{self.location}: {name} failed: {error}") from error
        except AlreadyExistsError:
            self._observe(name, "ok")
            raise
        except (BaseError, OSError) as error:
            self._observe(name, "error")
            raise StorageError(f"{self.location}: {name} failed: {error}") from error
        else:
            self._observe(name, "ok")


class _Missing(Exception):
    """No such object (a job without a manifest yet)."""

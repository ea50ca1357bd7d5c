"""The one interface to where rendered files live (DESIGN §8), whatever the backend.

A job's files are published under its storage key (`{video_id}/{job_id}`) as one set: the
renderer writes them into a local staging folder, then `publish` makes all of them visible at
once or none. The API finds, reads (byte ranges), deletes and sweeps them through the same
object. Renderer-side methods block (a render runs on a worker thread); API-side ones are async.
"""

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

STAGING_FOLDER = ".staging"
"""Where unfinished jobs are written; never a video id (dot-names are refused as ids and names)."""


class StorageError(Exception):
    """The store failed (unreachable, credentials refused, bucket missing, too slow): a transient
    failure for a render, which is retried."""


class StoredFileMissing(StorageError):
    """Nothing is published under that key and name. Unlike the other StorageErrors this is
    permanent: a store publishes a set whole and never changes it, so asking again finds nothing again."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One published file, as the API serves it."""

    size: int
    etag: str
    """Opaque and unquoted; changes whenever the bytes could."""
    modified: float
    """POSIX seconds, for Last-Modified."""
    local_path: Path | None = None
    """Where the local backend keeps it, so the API can hand it to sendfile or nginx; None in a remote store."""


# Checkable because Litestar validates injected dependencies against their annotation.
@runtime_checkable
class AssetStore(Protocol):
    # --- renderer side (blocking) ---------------------------------------------------------

    def staging(self, key: str) -> Path:
        """A fresh, empty local folder to write the files of `key` into."""
        ...

    def publish(self, staging_dir: Path, key: str) -> None:
        """Makes every file of `staging_dir` visible under `key` at once; consumes the folder.

        If `key` was already published (an earlier attempt of the same job got that far), the
        existing set stays and the new files are discarded. Raises StorageError.
        """
        ...

    def discard(self, staging_dir: Path) -> None:
        """Removes a staging folder and everything in it; no error if it is gone."""
        ...

    def fetch(self, key: str, name: str, into: Path) -> Path:
        """A local path to read the published file `name` of `key` from.

        A remote store downloads it to `into / name` (`into`, a folder of the caller's, is created
        if missing); the local one returns the published file itself, so read the path, never
        change or remove it. Raises StoredFileMissing if there is no such file, else StorageError.
        """
        ...

    # --- API side -------------------------------------------------------------------------

    async def find(self, key: str, name: str) -> StoredFile | None:
        """The published file `name` of `key`, or None. Raises StorageError."""
        ...

    def read(self, key: str, name: str, start: int, length: int) -> AsyncIterator[bytes]:
        """`length` bytes of a published file from `start`, in chunks."""
        ...

    async def delete(self, keys: list[str]) -> None:
        """Removes everything stored under these keys, published or not."""
        ...

    async def sweep_staging(self, max_age: timedelta) -> list[str]:
        """Removes unfinished uploads older than `max_age` (a renderer died mid-job); returns their names."""
        ...

    async def check(self) -> None:
        """Raises StorageError unless the store answers (for /readyz)."""
        ...


def new_staging_folder(root: Path, key: str) -> Path:
    """A fresh, empty folder under `root`'s staging folder for the files of `key`: named after
    the key, for whoever looks, and a random suffix, so two attempts never share one."""
    folder = root / STAGING_FOLDER / f"{'_'.join(key_parts(key))}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    return folder


def job_key(video_id: str, job_id: str) -> str:
    """Where a job's files are stored: the Render's `storage_key`."""
    return f"{video_id}/{job_id}"


MEDIA_FILE = "image"
"""The one file a media key holds: the uploaded image as stored (PNG with alpha, else JPEG)."""


def media_key(video_id: str, media_id: str) -> str:
    """Where an image uploaded to a video is stored: the API publishes it, renderers fetch it."""
    return f"{video_id}/{media_id}"


def key_parts(key: str) -> tuple[str, ...]:
    """The names of `key`; raises ValueError for a key that could leave the store's root."""
    path = PurePosixPath(key)
    if "\0" in key or path.is_absolute() or not path.parts or not all(is_plain_name(part) for part in path.parts):
        raise ValueError(f"unsafe storage key {key!r}")
    return path.parts


def is_plain_name(name: str) -> bool:
    """One file or folder name that is not ".", "..", ".staging" or any other dot-name."""
    return bool(name) and not name.startswith(".") and not any(part in name for part in ("/", "\\", "\0"))

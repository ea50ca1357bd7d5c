"""The local folder backend (the default): `asset_dir/{video_id}/{job_id}/{file}`, staging in
`asset_dir/.staging/`, on the same filesystem as the assets so that publishing is one rename.
For one host, or several that share the folder (deploy/remote-renderers.md)."""

import asyncio
import logging
import os
import shutil
import stat
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio

from libs.storage.base import (
    STAGING_FOLDER,
    StorageError,
    StoredFile,
    StoredFileMissing,
    is_plain_name,
    key_parts,
    new_staging_folder,
)

log = logging.getLogger(__name__)

READ_CHUNK_SIZE = 256 * 1024


class LocalFolderStore:
    def __init__(self, asset_dir: Path) -> None:
        self.asset_dir = asset_dir

    # --- renderer side ---------------------------------------------------------------------

    def staging(self, key: str) -> Path:
        return new_staging_folder(self.asset_dir, key)

    def publish(self, staging_dir: Path, key: str) -> None:
        target = self.asset_dir.joinpath(*key_parts(key))
        _fsync_tree(staging_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # POSIX rename replaces an empty folder but fails on one with files in it.
            os.rename(staging_dir, target)
        except OSError:
            if not (target.is_dir() and any(target.iterdir())):
                raise
            self.discard(staging_dir)
            return
        _fsync(target.parent)

    def discard(self, staging_dir: Path) -> None:
        shutil.rmtree(staging_dir, ignore_errors=True)

    def fetch(self, key: str, name: str, into: Path) -> Path:
        # Published files never change, so the renderer reads this one where it lies.
        path = self._published_file(key, name)
        if path is None or not path.is_file():
            raise StoredFileMissing(f"{self.asset_dir}: nothing published as {name!r} under {key!r}")
        return path

    # --- API side --------------------------------------------------------------------------

    async def find(self, key: str, name: str) -> StoredFile | None:
        path = self._published_file(key, name)
        if path is None:
            return None
        try:
            file_stat = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(file_stat.st_mode):
            return None
        return StoredFile(
            size=file_stat.st_size,
            etag=f"{file_stat.st_size:x}-{file_stat.st_mtime_ns:x}",
            modified=file_stat.st_mtime,
            local_path=path,
        )

    async def read(self, key: str, name: str, start: int, length: int) -> AsyncIterator[bytes]:
        path = self._published_file(key, name)
        if path is None:
            return
        async with await anyio.open_file(path, "rb") as file:
            await file.seek(start)
            while length > 0:
                chunk = await file.read(min(READ_CHUNK_SIZE, length))
                if not chunk:
                    # The file shrank after Content-Length went out; stopping short lets the client notice.
                    return
                length -= len(chunk)
                yield chunk

    async def delete(self, keys: list[str]) -> None:
        await asyncio.to_thread(self._delete_folders, keys)

    async def sweep_staging(self, max_age: timedelta) -> list[str]:
        return await asyncio.to_thread(self._remove_stale_staging, max_age)

    async def check(self) -> None:
        if not os.access(self.asset_dir, os.W_OK | os.X_OK):
            raise StorageError(f"asset folder {self.asset_dir} is missing or not writable")

    def _published_file(self, key: str, name: str) -> Path | None:
        """The real path of `name` under `key`, strictly inside the asset root; None for anything
        else. Symlinks are resolved before the containment check, so a link cannot lead out."""
        try:
            parts = key_parts(key)
        except ValueError:
            return None
        if not is_plain_name(name):
            return None
        root = self.asset_dir.resolve()
        path = root.joinpath(*parts, name).resolve()
        return path if path.is_relative_to(root) else None

    def _delete_folders(self, keys: list[str]) -> None:
        root = self.asset_dir.resolve()
        for key in keys:
            try:
                folder = root.joinpath(*key_parts(key))
            except ValueError:
                log.warning("not removing %r: not a job key", key)
                continue
            # Keys come from the database; still, delete nothing but a folder strictly inside the root.
            if not folder.resolve().is_relative_to(root):
                log.warning("not removing %s: not inside %s", folder, root)
                continue
            shutil.rmtree(folder, ignore_errors=True)

    def _remove_stale_staging(self, max_age: timedelta) -> list[str]:
        staging = self.asset_dir / STAGING_FOLDER
        if not staging.is_dir():
            return []
        cutoff = time.time() - max_age.total_seconds()
        removed = []
        for entry in staging.iterdir():
            try:
                if entry.lstat().st_mtime >= cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except FileNotFoundError:
                continue  # its worker finished or discarded it meanwhile
            except OSError as error:
                log.warning("cannot remove staging entry %s: %s", entry, error)
                continue
            removed.append(entry.name)
        return removed


def _fsync_tree(folder: Path) -> None:
    """Flushes every file and then the folder itself, so a crash after the rename loses nothing."""
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync(path)
    _fsync(folder)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

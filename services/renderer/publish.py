"""Where finished assets go (DESIGN §5): written into a staging folder, then published at once.

The pipeline only sees `AssetStorage`, so an object-store backend can replace the local folder
for renderers on other hosts.
"""

import os
import secrets
import shutil
from pathlib import Path, PurePosixPath
from typing import Protocol

STAGING_FOLDER = ".staging"


class AssetStorage(Protocol):
    def staging(self, key: str) -> Path:
        """A fresh, empty local folder to write the files of `key` into."""
        ...

    def publish(self, staging_dir: Path, key: str) -> None:
        """Makes every file of `staging_dir` visible under `key` at once; consumes the folder.

        If `key` was already published (an earlier attempt of the same job got that far),
        the existing files stay and the new ones are discarded.
        """
        ...

    def discard(self, staging_dir: Path) -> None:
        """Removes a staging folder and everything in it; no error if it is gone."""
        ...


class LocalFolderStorage:
    """Assets under `asset_dir/{video_id}/{job_id}/`; staging folders in `asset_dir/.staging/`.

    Staging lives on the same filesystem as the assets, so publishing is one rename.
    """

    def __init__(self, asset_dir: Path) -> None:
        self.asset_dir = asset_dir

    def staging(self, key: str) -> Path:
        folder = self.asset_dir / STAGING_FOLDER / f"{'_'.join(_key_parts(key))}-{secrets.token_hex(4)}"
        folder.mkdir(parents=True)
        return folder

    def publish(self, staging_dir: Path, key: str) -> None:
        target = self.asset_dir.joinpath(*_key_parts(key))
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


def _key_parts(key: str) -> tuple[str, ...]:
    """The folder names of `key`; raises ValueError for a key that could leave the asset folder."""
    path = PurePosixPath(key)
    unsafe_part = any(part in ("..", STAGING_FOLDER) for part in path.parts)
    if "\0" in key or path.is_absolute() or not path.parts or unsafe_part:
        raise ValueError(f"unsafe storage key {key!r}")
    return path.parts


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

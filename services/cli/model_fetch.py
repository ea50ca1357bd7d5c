"""Downloads a pinned model (a Manifest: paths, sizes, SHA-256s) into a folder: resumable,
verified, and complete only when whole.

Each file streams into `<folder>/.slidereel-download/<path>.part`; an interrupted transfer
keeps its part, and the next attempt asks only for the rest (HTTP Range). A file is moved into
place only once every file is verified, and the completion marker is written last: the engine
loads only a folder with the marker, so it never sees a half download. Files already in place
with the pinned content (an earlier fetch, or `hf download`) are kept, not fetched again.
"""

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.renderer.tts.supertonic_files import (
    Manifest,
    ModelFile,
    file_sha256,
    incomplete_reason,
    read_completion,
    remove_completion_marker,
    write_completion_marker,
)

STAGING_DIR = ".slidereel-download"
PART_SUFFIX = ".part"
ATTEMPTS = 3
"""Tries per file: a dropped connection resumes where it stopped, without the operator."""
_CONTENT_RANGE_START = re.compile(r"bytes (\d+)-")

Progress = Callable[[ModelFile, int], None]
"""Called with a file and how many of its bytes are on disk, as they arrive."""


class FetchError(Exception):
    def __init__(self, path: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.path = path
        self.retryable = retryable


class ChecksumMismatch(FetchError):
    """The downloaded bytes are not the pinned file; they were deleted."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message, retryable=False)


class DownloadFailed(FetchError):
    """The transfer failed; what arrived is kept in the part file for the next try."""


@dataclass(frozen=True)
class FileOutcome:
    file: ModelFile
    action: str
    """present (already in place, verified) | downloaded | resumed (after bytes kept from before)"""
    downloaded: int
    """Bytes transferred by this run."""


def is_complete(manifest: Manifest, folder: Path) -> bool:
    """Whether `folder` already holds exactly this manifest's files, by the marker and sizes."""
    completion = read_completion(folder)
    return completion is not None and completion.matches(manifest) and incomplete_reason(folder) is None


def fetch_model(
    manifest: Manifest,
    folder: Path,
    base_url: str,
    client: httpx.Client,
    *,
    on_progress: Progress | None = None,
    attempts: int = ATTEMPTS,
    wait: Callable[[float], None] = time.sleep,
) -> list[FileOutcome]:
    """Makes `folder` a complete copy of `manifest`, downloading what is missing from
    `{base_url}{path}`; returns what was done per file (nothing when it was complete already).
    Raises ChecksumMismatch or DownloadFailed naming the file; the folder is then left as it was."""
    if is_complete(manifest, folder):
        return []
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / STAGING_DIR
    outcomes = []
    for file in manifest.files:
        if _has_pinned_content(folder / file.path, file):
            outcomes.append(FileOutcome(file, "present", 0))
            continue
        part = staging / (file.path + PART_SUFFIX)
        kept = part.stat().st_size if part.exists() else 0
        downloaded = _download_verified(client, base_url.rstrip("/") + "/" + file.path, part, file, on_progress, attempts, wait)
        outcomes.append(FileOutcome(file, "resumed" if 0 < kept < file.size else "downloaded", downloaded))
    # Everything verified: the old marker goes first, the new one last.
    remove_completion_marker(folder)
    for outcome in outcomes:
        if outcome.action != "present":
            target = folder / outcome.file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / (outcome.file.path + PART_SUFFIX), target)
    write_completion_marker(folder, manifest.revision, manifest.files)
    shutil.rmtree(staging, ignore_errors=True)
    return outcomes


def _has_pinned_content(path: Path, file: ModelFile) -> bool:
    return path.is_file() and path.stat().st_size == file.size and file_sha256(path) == file.sha256


def _download_verified(
    client: httpx.Client,
    url: str,
    part: Path,
    file: ModelFile,
    on_progress: Progress | None,
    attempts: int,
    wait: Callable[[float], None],
) -> int:
    """Completes `part` from `url` and checks it against `file`; returns the bytes transferred."""
    part.parent.mkdir(parents=True, exist_ok=True)
    transferred = 0
    for attempt in range(1, attempts + 1):
        try:
            transferred += _download(client, url, part, file, on_progress)
            break
        except DownloadFailed as error:
            if not error.retryable or attempt == attempts:
                raise
            wait(2.0**attempt)
    size = part.stat().st_size
    digest = file_sha256(part) if size == file.size else None
    if digest != file.sha256:
        part.unlink()
        found = f"SHA-256 {digest}" if digest else f"{size} bytes"
        raise ChecksumMismatch(
            file.path,
            f"{file.path} from {url} is not the pinned file (expected {file.size} bytes with SHA-256 {file.sha256}, "
            f"got {found}); it was deleted",
        )
    return transferred


def _download(client: httpx.Client, url: str, part: Path, file: ModelFile, on_progress: Progress | None) -> int:
    """Appends the rest of the file to `part` (all of it when there is no part yet); returns the
    bytes transferred. A part larger than the file cannot be a prefix of it and starts over."""
    have = part.stat().st_size if part.exists() else 0
    if have > file.size:
        part.unlink()
        have = 0
    if have == file.size:
        return 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    transferred = 0
    try:
        with client.stream("GET", url, headers=headers) as response:
            start = _start_of(response, url, file, part)
            with part.open("r+b" if start else "wb") as out:
                out.seek(start)
                out.truncate()
                # As the bytes arrive (no re-chunking): what came before a dropped connection is on disk.
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    transferred += len(chunk)
                    if on_progress is not None:
                        on_progress(file, start + transferred)
    except httpx.TransportError as error:
        kept = part.stat().st_size if part.exists() else 0
        raise DownloadFailed(
            file.path,
            f"network error fetching {url}: {type(error).__name__}: {error}; the {kept} bytes received are kept "
            "in the download folder: run the command again to resume",
            retryable=True,
        ) from error
    return transferred


def _start_of(response: httpx.Response, url: str, file: ModelFile, part: Path) -> int:
    """Where this response's body goes in the file: 0 for a whole file (200), the range's start
    for the rest of it (206). Anything else fails the attempt."""
    if response.status_code == 200:
        return 0
    if response.status_code == 206:
        match = _CONTENT_RANGE_START.match(response.headers.get("content-range", ""))
        if match and int(match.group(1)) <= part.stat().st_size:
            return int(match.group(1))
        raise DownloadFailed(file.path, f"{url} answered a range that does not continue the part already fetched", retryable=True)
    if response.status_code == 416:
        # The server's copy is shorter than the part: not the pinned file, or a changed one.
        part.unlink(missing_ok=True)
        raise DownloadFailed(file.path, f"{url} refused to resume (HTTP 416); starting that file over", retryable=True)
    retryable = response.status_code == 429 or response.status_code >= 500
    raise DownloadFailed(file.path, f"{url} answered HTTP {response.status_code}", retryable=retryable)

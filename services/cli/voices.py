"""`slidereel voices fetch supertonic`: downloads the pinned Supertonic 3 files into
SUPERTONIC_MODEL_DIR (or --dir), once, verified; the renderer never downloads at render time.

SLIDEREEL_MODEL_MIRROR replaces the download base URL (`{mirror}/{path}`, e.g. an internal
server holding a copy of the repository's files at the pinned revision).
"""

import argparse
import os
from pathlib import Path

import httpx
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from services.cli.errors import CliError, ExitCode
from services.cli.options import wants_json
from services.cli.output import Output

MIRROR_SETTING = "SLIDEREEL_MODEL_MIRROR"
MODELS = ("supertonic",)
CONNECT_TIMEOUT_SEC = 30.0
READ_TIMEOUT_SEC = 60.0
"""A transfer silent this long is dropped and resumed (the next attempt asks for the rest)."""


EXIT_CODES_HELP = """exit codes:
  0  the model is complete in the folder
  2  no folder: pass --dir or set SUPERTONIC_MODEL_DIR
  5  a download failed (run again: it resumes) or a file is not the pinned one (CHECKSUM_MISMATCH)"""


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`common` (the API options) is not used: these commands work on this host's files only."""
    parser = commands.add_parser("voices", help="manage the self-hosted voices of this host")
    actions = parser.add_subparsers(dest="voices_command", required=True)
    summary = "download a self-hosted voice model: pinned files, verified, resumable"
    fetch = actions.add_parser(
        "fetch",
        help=summary,
        description=summary[:1].upper() + summary[1:] + ".",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("model", choices=MODELS)
    fetch.add_argument("--dir", type=Path, default=None, help="where the model goes (default: SUPERTONIC_MODEL_DIR)")
    fetch.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document on stdout instead of text"
    )
    fetch.set_defaults(run=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    # Imported here: the renderer's TTS package is not needed by the other commands.
    from services.cli.model_fetch import ChecksumMismatch, DownloadFailed, fetch_model
    from services.renderer.tts.supertonic_files import MODEL_DIR_SETTING, Manifest

    out = Output(wants_json(args))
    folder = args.dir or (Path(os.environ[MODEL_DIR_SETTING]) if os.environ.get(MODEL_DIR_SETTING) else None)
    if folder is None:
        raise CliError(ExitCode.BAD_INPUT, "NO_MODEL_DIR", f"say where the model goes: --dir, or set {MODEL_DIR_SETTING}")
    folder = folder.expanduser().resolve()
    manifest = Manifest.load()
    base_url = os.environ.get(MIRROR_SETTING) or manifest.base_url
    out.note(
        f"{manifest.model} at revision {manifest.revision[:12]}: {len(manifest.files)} files, "
        f"{manifest.total_size / 1e6:.1f} MB, into {folder} from {base_url}"
    )
    timeout = httpx.Timeout(READ_TIMEOUT_SEC, connect=CONNECT_TIMEOUT_SEC)
    try:
        with httpx.Client(follow_redirects=True, timeout=timeout) as client, DownloadBar(out, manifest.total_size) as progress:
            outcomes = fetch_model(manifest, folder, base_url, client, on_progress=progress)
    except (ChecksumMismatch, DownloadFailed) as error:
        code = "CHECKSUM_MISMATCH" if isinstance(error, ChecksumMismatch) else "DOWNLOAD_FAILED"
        raise CliError(ExitCode.UNAVAILABLE, code, str(error), {"path": error.path, "model_dir": str(folder)}) from error
    except OSError as error:  # the folder cannot be created or written (permissions, a full disk)
        message = f"cannot write {error.filename or folder}: {error.strerror}"
        raise CliError(ExitCode.BAD_INPUT, "MODEL_DIR_UNWRITABLE", message) from error
    downloaded = sum(outcome.downloaded for outcome in outcomes)
    for outcome in outcomes:
        out.note(f"  {outcome.file.path:<30} {outcome.file.size / 1e6:8.1f} MB  {outcome.action}")
    state = "was complete already" if not outcomes else f"is complete ({downloaded / 1e6:.1f} MB downloaded)"
    out.note(
        f"{manifest.model} in {folder} {state}. Its weights are licensed under OpenRAIL-M ({folder / 'LICENSE'}): "
        "its use restrictions apply to the voice."
    )
    configured = os.environ.get(MODEL_DIR_SETTING)
    if configured is None or Path(configured).expanduser().resolve() != folder:
        out.note(f"The renderer finds it with {MODEL_DIR_SETTING}={folder}")
    out.document({
        "model": manifest.model, "revision": manifest.revision, "model_dir": str(folder), "complete": True,
        "downloaded_bytes": downloaded,
        "files": [{"path": outcome.file.path, "size": outcome.file.size, "action": outcome.action} for outcome in outcomes],
    })  # fmt: skip
    return ExitCode.OK


class DownloadBar:
    """A transient download bar on stderr (silent with --json), fed by fetch_model's progress."""

    def __init__(self, out: Output, total: int) -> None:
        self._progress = Progress(BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=out.live, transient=True)
        self._task = self._progress.add_task("download", total=total)
        self._on_disk: dict[str, int] = {}

    def __enter__(self):
        self._progress.start()
        return self.update

    def __exit__(self, *exc_info) -> None:
        self._progress.stop()

    def update(self, file, on_disk: int) -> None:
        self._on_disk[file.path] = on_disk
        self._progress.update(self._task, completed=sum(self._on_disk.values()))

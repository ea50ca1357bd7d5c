"""The Supertonic model folder's files: the pinned list (`supertonic_files.json`: path, size
and SHA-256 of each file at one revision of Supertone/supertonic-3), and the completion marker
that `slidereel voices fetch supertonic` writes last.

The engine loads a folder only when the marker is there and every file it lists still has its
size, so a half-downloaded or half-replaced model is never loaded. Nothing here imports
onnxruntime or numpy: the renderer checks availability and the CLI fetches without them.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

PINNED_MANIFEST = Path(__file__).with_name("supertonic_files.json")
COMPLETION_MARKER = ".slidereel-complete.json"
MODEL_DIR_SETTING = "SUPERTONIC_MODEL_DIR"
FETCH_COMMAND = "slidereel voices fetch supertonic"
REQUIRED_FILES = (
    "onnx/duration_predictor.onnx",
    "onnx/text_encoder.onnx",
    "onnx/vector_estimator.onnx",
    "onnx/vocoder.onnx",
    "onnx/tts.json",
    "onnx/unicode_indexer.json",
)
VOICE_STYLES_DIR = "voice_styles"
HASH_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelFile:
    path: str
    """Relative to the model folder, with forward slashes (as in the repository)."""
    size: int
    sha256: str

    @classmethod
    def of(cls, folder: Path, path: str) -> "ModelFile":
        """The entry describing the file at `folder/path` as it is now (hashes it)."""
        file = folder / path
        return cls(path, file.stat().st_size, file_sha256(file))

    def as_dict(self) -> dict:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def _files(entries: list[dict]) -> tuple[ModelFile, ...]:
    return tuple(ModelFile(entry["path"], int(entry["size"]), entry["sha256"].lower()) for entry in entries)


@dataclass(frozen=True)
class Manifest:
    model: str
    revision: str
    base_url: str
    """Where `{base_url}{path}` downloads each file (SLIDEREEL_MODEL_MIRROR replaces it)."""
    files: tuple[ModelFile, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> "Manifest":
        """The manifest at `path`, by default the pinned one beside this module."""
        data = json.loads((path or PINNED_MANIFEST).read_text(encoding="utf-8"))
        base_url = data["base_url"].format(revision=data["revision"])
        return cls(model=data["model"], revision=data["revision"], base_url=base_url, files=_files(data["files"]))

    @property
    def total_size(self) -> int:
        return sum(file.size for file in self.files)


@dataclass(frozen=True)
class Completion:
    """What the marker of a completed folder says was verified into it."""

    revision: str
    files: tuple[ModelFile, ...]

    @property
    def digest(self) -> str:
        """Names the model by its content: the same files are the same model on any host."""
        listing = "\n".join(f"{file.path} {file.sha256}" for file in sorted(self.files, key=lambda file: file.path))
        return hashlib.sha256(listing.encode()).hexdigest()

    def matches(self, manifest: Manifest) -> bool:
        return self.revision == manifest.revision and set(self.files) == set(manifest.files)


def read_completion(folder: Path) -> Completion | None:
    """The folder's completion marker; None when there is none or it cannot be read."""
    try:
        data = json.loads((folder / COMPLETION_MARKER).read_text(encoding="utf-8"))
        return Completion(revision=data["revision"], files=_files(data["files"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_completion_marker(folder: Path, revision: str, files: list[ModelFile] | tuple[ModelFile, ...]) -> None:
    """Written last, after every file is verified in place; through a rename, so a reader sees
    the whole marker or none."""
    marker = folder / COMPLETION_MARKER
    temporary = marker.with_name(marker.name + ".tmp")
    document = {"revision": revision, "files": [file.as_dict() for file in files]}
    temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
    os.replace(temporary, marker)


def remove_completion_marker(folder: Path) -> None:
    (folder / COMPLETION_MARKER).unlink(missing_ok=True)


def incomplete_reason(folder: Path) -> str | None:
    """Why `folder` holds no complete Supertonic model, checked by name and size only (cheap);
    None when it does."""
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    for path in REQUIRED_FILES:
        if not (folder / path).is_file():
            return f"{folder} has no {path}"
    if not any((folder / VOICE_STYLES_DIR).glob("*.json")):
        return f"{folder} has no voice styles ({VOICE_STYLES_DIR}/*.json)"
    completion = read_completion(folder)
    if completion is None:
        return f"{folder} is not a completed download (no {COMPLETION_MARKER})"
    for file in completion.files:
        try:
            size = (folder / file.path).stat().st_size
        except OSError:
            return f"{folder} has no {file.path}"
        if size != file.size:
            return f"{file.path} in {folder} changed since it was fetched ({size} bytes, not {file.size})"
    return None

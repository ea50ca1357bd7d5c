"""`slidereel voices fetch supertonic` against a local HTTP server serving a stand-in model:
verified, resumable from a partial, atomic (the engine never sees a half download), pointed
elsewhere by SLIDEREEL_MODEL_MIRROR."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from services.cli.__main__ import main
from services.cli.model_fetch import STAGING_DIR, ChecksumMismatch, DownloadFailed, fetch_model
from services.renderer.tts import supertonic_files
from services.renderer.tts.supertonic import SupertonicEngine
from services.renderer.tts.supertonic_files import COMPLETION_MARKER, Manifest, ModelFile, incomplete_reason
from tests.supertonic_model import build_stand_in_model

BIG_FILE = "onnx/vector_estimator.onnx"


@dataclass
class FileServer:
    """Serves `files` under /repo/ on 127.0.0.1, honouring `Range: bytes=N-`; a path in
    `cut_after` gets only that many bytes of its body once, then the connection is dropped."""

    files: dict[str, bytes]
    cut_after: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.removeprefix("/repo/")
                server.requests.append((path, self.headers.get("Range")))
                if path not in server.files:
                    self.send_error(404)
                    return
                data = server.files[path]
                start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-")) if self.headers.get("Range") else 0
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.cut_after.pop(path, None)
                self.wfile.write(body if cut is None else body[:cut])
                if cut is not None:
                    self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        return Handler

    def paths_requested(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> dict[str, bytes]:
    """The files of a stand-in Supertonic folder, as a repository would serve them."""
    folder = build_stand_in_model(tmp_path_factory.mktemp("source") / "supertonic")
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != COMPLETION_MARKER}  # fmt: skip


@pytest.fixture
def server(stand_in) -> Iterator[FileServer]:
    files = FileServer(dict(stand_in))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), files.handler())
    files.url = f"http://127.0.0.1:{httpd.server_address[1]}/repo/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield files
    httpd.shutdown()
    httpd.server_close()


def manifest_of(files: dict[str, bytes], base_url: str = "https://models.invalid/{revision}/") -> Manifest:
    import hashlib

    entries = tuple(ModelFile(path, len(data), hashlib.sha256(data).hexdigest()) for path, data in files.items())
    return Manifest(model="supertonic-3", revision="test-revision", base_url=base_url, files=entries)


def fetch(manifest: Manifest, folder: Path, base_url: str, **options):
    with httpx.Client() as client:
        return fetch_model(manifest, folder, base_url, client, **options)


def test_fetches_every_file_verified_and_the_engine_then_speaks(server, stand_in, tmp_path):
    folder = tmp_path / "supertonic"
    outcomes = fetch(manifest_of(stand_in), folder, server.url)
    assert {outcome.file.path: outcome.action for outcome in outcomes} == dict.fromkeys(stand_in, "downloaded")
    assert all((folder / path).read_bytes() == data for path, data in stand_in.items())
    assert incomplete_reason(folder) is None and not (folder / STAGING_DIR).exists()
    voice = SupertonicEngine(folder)
    assert voice.available().ok
    assert voice.synthesize(["안녕하세요."], "ko", "F1", threading.Event()).duration_sec > 0


def test_a_checksum_mismatch_deletes_the_file_and_nothing_looks_complete(server, stand_in, tmp_path):
    folder = tmp_path / "supertonic"
    server.files[BIG_FILE] = b"\0" + stand_in[BIG_FILE][1:]
    with pytest.raises(ChecksumMismatch, match=f"{BIG_FILE} from .* is not the pinned file.*deleted") as raised:
        fetch(manifest_of(stand_in), folder, server.url)
    assert raised.value.path == BIG_FILE
    assert not (folder / STAGING_DIR / (BIG_FILE + ".part")).exists() and not (folder / BIG_FILE).exists()
    assert not (folder / COMPLETION_MARKER).exists()
    assert not SupertonicEngine(folder).available().ok


def test_an_interrupted_download_keeps_its_part_and_the_next_run_asks_for_the_rest(server, stand_in, tmp_path):
    folder = tmp_path / "supertonic"
    kept = len(stand_in[BIG_FILE]) // 3
    server.cut_after[BIG_FILE] = kept
    with pytest.raises(DownloadFailed, match=f"network error.*{kept} bytes received are kept"):
        fetch(manifest_of(stand_in), folder, server.url, attempts=1)
    assert (folder / STAGING_DIR / (BIG_FILE + ".part")).stat().st_size == kept
    assert not (folder / COMPLETION_MARKER).exists() and not SupertonicEngine(folder).available().ok

    server.requests.clear()
    outcomes = fetch(manifest_of(stand_in), folder, server.url)
    assert (BIG_FILE, f"bytes={kept}-") in server.requests
    assert server.paths_requested().count(BIG_FILE) == 1
    resumed = next(outcome for outcome in outcomes if outcome.file.path == BIG_FILE)
    assert (resumed.action, resumed.downloaded) == ("resumed", len(stand_in[BIG_FILE]) - kept)
    assert (folder / BIG_FILE).read_bytes() == stand_in[BIG_FILE] and incomplete_reason(folder) is None


def test_a_dropped_connection_resumes_within_the_same_run(server, stand_in, tmp_path):
    kept = len(stand_in[BIG_FILE]) // 2
    server.cut_after[BIG_FILE] = kept
    waits: list[float] = []
    fetch(manifest_of(stand_in), tmp_path / "supertonic", server.url, wait=waits.append)
    assert [request for request in server.requests if request[0] == BIG_FILE] == [(BIG_FILE, None), (BIG_FILE, f"bytes={kept}-")]
    assert len(waits) == 1


def test_a_complete_folder_downloads_nothing_when_fetched_again(server, stand_in, tmp_path):
    folder = tmp_path / "supertonic"
    fetch(manifest_of(stand_in), folder, server.url)
    server.requests.clear()
    assert fetch(manifest_of(stand_in), folder, server.url) == []
    assert server.requests == []


def test_files_already_in_place_are_verified_and_kept(server, stand_in, tmp_path):
    """A folder filled by hand (e.g. `hf download`) has no marker: its right files are kept."""
    folder = tmp_path / "supertonic"
    (folder / "onnx").mkdir(parents=True)
    (folder / BIG_FILE).write_bytes(stand_in[BIG_FILE])
    (folder / "onnx" / "tts.json").write_bytes(b"{}")
    outcomes = fetch(manifest_of(stand_in), folder, server.url)
    assert BIG_FILE not in server.paths_requested() and "onnx/tts.json" in server.paths_requested()
    assert {outcome.file.path: outcome.action for outcome in outcomes}[BIG_FILE] == "present"
    assert (folder / "onnx" / "tts.json").read_bytes() == stand_in["onnx/tts.json"]


def test_the_command_downloads_from_the_mirror_into_the_model_dir(server, stand_in, tmp_path, monkeypatch, capsys):
    manifest_file = tmp_path / "manifest.json"
    entries = [file.as_dict() for file in manifest_of(stand_in).files]
    manifest_file.write_text(json.dumps({
        "model": "supertonic-3", "revision": "test-revision", "base_url": "https://models.invalid/{revision}/", "files": entries,
    }))  # fmt: skip
    monkeypatch.setattr(supertonic_files, "PINNED_MANIFEST", manifest_file)
    monkeypatch.setenv("SLIDEREEL_MODEL_MIRROR", server.url)
    monkeypatch.setenv("SUPERTONIC_MODEL_DIR", str(tmp_path / "supertonic"))
    assert main(["voices", "fetch", "supertonic", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["model_dir"] == str(tmp_path / "supertonic") and answer["revision"] == "test-revision"
    assert answer["downloaded_bytes"] == sum(map(len, stand_in.values()))
    assert sorted(server.paths_requested()) == sorted(stand_in)
    assert SupertonicEngine(tmp_path / "supertonic").available().ok

    server.requests.clear()
    assert main(["voices", "fetch", "supertonic"]) == 0
    assert "was complete already" in capsys.readouterr().out and server.requests == []


def test_the_command_reports_a_failed_download_with_exit_code_5(server, stand_in, tmp_path, monkeypatch, capsys):
    manifest_file = tmp_path / "manifest.json"
    entries = [file.as_dict() for file in manifest_of(stand_in).files]
    manifest_file.write_text(json.dumps({"model": "supertonic-3", "revision": "r", "base_url": server.url, "files": entries}))
    monkeypatch.setattr(supertonic_files, "PINNED_MANIFEST", manifest_file)
    monkeypatch.delenv("SLIDEREEL_MODEL_MIRROR", raising=False)
    server.files.pop("onnx/tts.json")
    assert main(["voices", "fetch", "supertonic", "--dir", str(tmp_path / "m")]) == 5
    error = capsys.readouterr().err
    assert "DOWNLOAD_FAILED" in error and "onnx/tts.json answered HTTP 404" in error
    assert not (tmp_path / "m" / COMPLETION_MARKER).exists()


def test_the_pinned_manifest_lists_the_supertonic_3_files_with_their_checksums():
    manifest = Manifest.load()
    assert manifest.revision == "724fb5abbf5502583fb520898d45929e62f02c0b"
    assert manifest.base_url == f"https://huggingface.co/Supertone/supertonic-3/resolve/{manifest.revision}/"
    paths = {file.path for file in manifest.files}
    assert set(supertonic_files.REQUIRED_FILES) <= paths and "LICENSE" in paths
    assert {f"voice_styles/{kind}{number}.json" for kind in "FM" for number in range(1, 6)} <= paths
    assert all(len(file.sha256) == 64 and int(file.sha256, 16) >= 0 and file.size > 0 for file in manifest.files)
    assert 390e6 < manifest.total_size < 410e6

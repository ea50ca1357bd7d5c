"""A local stand-in for the Azure Speech and Google Cloud Text-to-Speech REST APIs.

It checks what the real services require of a request (Azure: the key header, SSML content
type, output format, well-formed SSML naming a voice; Google: the key header, the voice, SSML
with marks, time pointing), records every request with its arrival time, and answers with
speech the test generated (espeak-ng, resampled to the rate asked for), timing Google's marks.
Faults are scripted per request: an HTTP status with headers, a held answer, a dropped
connection, audio that does not decode.
"""

import base64
import functools
import io
import json
import re
import secrets
import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from xml.etree import ElementTree

import av

from services.renderer.settings import RendererSettings, Secret
from services.renderer.tts import get_engine

SSML_NAMESPACE = "{http://www.w3.org/2001/10/synthesis}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
AZURE_FORMATS = {"riff-16khz-16bit-mono-pcm": 16_000, "riff-24khz-16bit-mono-pcm": 24_000, "riff-48khz-16bit-mono-pcm": 48_000}

AZURE_VOICES = [
    {"Name": "Microsoft Server Speech Text to Speech Voice (ko-KR, SunHiNeural)", "DisplayName": "Sun-Hi",
     "LocalName": "선히", "ShortName": "ko-KR-SunHiNeural", "Gender": "Female", "Locale": "ko-KR",
     "SampleRateHertz": "48000", "VoiceType": "Neural"},
    {"Name": "Microsoft Server Speech Text to Speech Voice (en-US, GuyNeural)", "DisplayName": "Guy",
     "LocalName": "Guy", "ShortName": "en-US-GuyNeural", "Gender": "Male", "Locale": "en-US",
     "SampleRateHertz": "24000", "VoiceType": "Neural"},
]  # fmt: skip
GOOGLE_VOICES = {"voices": [
    {"languageCodes": ["ko-KR"], "name": "ko-KR-Neural2-C", "ssmlGender": "MALE", "naturalSampleRateHertz": 24000},
    {"languageCodes": ["en-US"], "name": "en-US-Studio-O", "ssmlGender": "FEMALE", "naturalSampleRateHertz": 24000},
]}  # fmt: skip


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


def pcm_of_wav(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as reader:
        return reader.readframes(reader.getnframes())


@functools.lru_cache(maxsize=512)
def speech_pcm(text: str, sample_rate: int) -> bytes:
    """espeak-ng saying `text`, resampled to `sample_rate`: the same bytes for the same text."""
    language = "ko" if re.search("[\uac00-\ud7a3]", text) else "en"
    spoken = get_engine("espeak").synthesize([text], language, None, threading.Event())
    if spoken.sample_rate == sample_rate:
        return spoken.pcm
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(spoken.pcm) // 2)
    frame.planes[0].update(spoken.pcm)
    frame.sample_rate = spoken.sample_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
    frames = resampler.resample(frame) + resampler.resample(None)
    return b"".join(bytes(out.planes[0])[: out.samples * 2] for out in frames)


@dataclass(frozen=True)
class Fault:
    """How to answer one request instead of (or before) the normal answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    """Sent instead of the normal answer (with `status`); None: the normal answer."""
    hold_sec: float = 0.0
    """Wait this long (or until the server stops) before answering."""
    drop_connection: bool = False
    """Close the connection without answering (a reset)."""


@dataclass
class Recorded:
    at: float
    """time.monotonic() when the request arrived."""
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    spoken: str = ""
    """The text the request asked to be spoken, read back from its SSML."""
    voice: str = ""
    status: int = 0


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FakeCloudTts:
    def __init__(self) -> None:
        self.key = "fake-key-" + secrets.token_hex(8)
        """A key unique to this server, so each test gets its own engine instance (and circuit)."""
        self.requests: list[Recorded] = []
        self.problems: list[str] = []
        """What a real service would have refused, besides a wrong key."""
        self.faults: deque[Fault] = deque()
        """Used up one per synthesis request, in arrival order."""
        self.always: Fault | None = None
        """Answers every synthesis request once `faults` is empty."""
        self.fault_for: Callable[[str], Fault | None] | None = None
        """The fault for a given spoken text, whatever the order requests arrive in; None
        from it: `faults`, then `always`."""
        self.gather = 0
        """Hold each synthesis answer until this many have been in flight at once (0: don't)."""
        self.google_rate = 24_000
        self.voice_list_status = 200
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrived = threading.Event()
        self.stopping = threading.Event()
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        with self._lock:
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def settings(self, **overrides) -> RendererSettings:
        """Both engines pointed at this server with its key; small limits a test can override."""
        values = {
            "azure_speech_key": Secret(self.key), "azure_speech_endpoint": self.url, "azure_speech_region": None,
            "google_tts_api_key": Secret(self.key), "google_tts_endpoint": self.url,
            "tts_concurrency": 4, "tts_requests_per_second": 0, "tts_request_timeout_sec": 5.0,
            "tts_circuit_failures": 5, "tts_circuit_open_sec": 30.0,
        }  # fmt: skip
        return RendererSettings(**{**values, **overrides})

    def synthesis_requests(self) -> list[Recorded]:
        return [request for request in self.requests if request.method == "POST"]

    # --- serving -------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._serve(self)

            def do_POST(self) -> None:
                fake._serve(self)

            def log_message(self, *_args) -> None:
                pass

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        record = Recorded(time.monotonic(), handler.command, handler.path, dict(handler.headers.items()), body)
        with self._lock:
            self.requests.append(record)
        self.arrived.set()
        try:
            if handler.command == "GET":
                status, headers, answer = self._voice_list(handler.path, record)
            else:
                status, headers, answer = self._synthesis(record)
        except _Refused as refusal:
            status, headers, answer = refusal.status, {"Content-Type": "text/plain"}, str(refusal).encode()
        if status is None:
            handler.close_connection = True
            handler.connection.shutdown(2)  # a reset: the client sees the connection drop
            return
        record.status = status
        try:
            handler.send_response(status)
            for name, value in {"Content-Length": str(len(answer)), **headers}.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)

    def _voice_list(self, path: str, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        if path == "/cognitiveservices/voices/list":
            self._check_azure_key(record)
            listing = AZURE_VOICES
        elif path == "/v1/voices":
            self._check_google_key(record)
            listing = GOOGLE_VOICES
        else:
            raise _Refused(404, f"no route {path}")
        if self.voice_list_status != 200:
            return self.voice_list_status, {}, b"voice list unavailable"
        return 200, {"Content-Type": "application/json"}, json.dumps(listing).encode()

    def _synthesis(self, record: Recorded) -> tuple[int | None, dict[str, str], bytes]:
        if record.path == "/cognitiveservices/v1":
            answer = self._azure(record)
        elif record.path == "/v1beta1/text:synthesize":
            answer = self._google(record)
        else:
            raise _Refused(404, f"no route {record.path}")
        with self._lock:
            fault = self.fault_for(record.spoken) if self.fault_for else None
            if fault is None:
                fault = self.faults.popleft() if self.faults else self.always
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
        try:
            self._hold(fault)
        finally:
            with self._lock:
                self.in_flight -= 1
        if fault is not None and fault.drop_connection:
            return None, {}, b""
        if fault is not None and fault.body is not None:
            return fault.status, fault.headers, fault.body
        if fault is not None and fault.status != 200:
            return fault.status, fault.headers, b'{"error": "scripted fault"}'
        return answer

    def _hold(self, fault: Fault | None) -> None:
        if self.gather:
            with self._lock:
                self._lock.wait_for(lambda: self.max_in_flight >= self.gather or self.stopping.is_set(), timeout=10)
        if fault is not None and fault.hold_sec:
            self.stopping.wait(fault.hold_sec)

    def _check_azure_key(self, record: Recorded) -> None:
        presented = record.headers.get("Ocp-Apim-Subscription-Key")
        if presented != self.key:
            # Echoes what it was given: a careless provider, so tests see the engine never quotes a key.
            raise _Refused(401, json.dumps({"error": {"code": "401", "message": f"Access denied for key {presented}"}}))

    def _check_google_key(self, record: Recorded) -> None:
        presented = record.headers.get("X-Goog-Api-Key")
        if not presented:
            raise _Refused(
                403,
                '{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "The request is missing a valid API key."}}',
            )
        if presented != self.key:
            raise _Refused(400, json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                      "message": f"API key not valid: {presented}",
                                                      "details": [{"reason": "API_KEY_INVALID"}]}}))  # fmt: skip

    def _refuse_unless(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)
            raise _Refused(400, problem)

    def _azure(self, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        self._check_azure_key(record)
        headers = record.headers
        self._refuse_unless(
            headers.get("Content-Type", "").split(";")[0] == "application/ssml+xml", "Content-Type is not application/ssml+xml"
        )
        sample_rate = AZURE_FORMATS.get(headers.get("X-Microsoft-OutputFormat", ""))
        self._refuse_unless(
            sample_rate is not None, f"unsupported X-Microsoft-OutputFormat {headers.get('X-Microsoft-OutputFormat')!r}"
        )
        self._refuse_unless(bool(headers.get("User-Agent")), "no User-Agent")
        try:
            speak = ElementTree.fromstring(record.body)
        except ElementTree.ParseError as error:
            self._refuse_unless(False, f"SSML is not well-formed XML: {error}")
        self._refuse_unless(
            speak.tag == f"{SSML_NAMESPACE}speak" and speak.get("version") == "1.0", "root is not <speak version=1.0>"
        )
        self._refuse_unless(bool(speak.get(XML_LANG)), "<speak> has no xml:lang")
        voice = speak.find(f"{SSML_NAMESPACE}voice")
        self._refuse_unless(voice is not None and bool(voice.get("name")), "no <voice name=…>")
        record.voice = voice.get("name")
        record.spoken = "".join(voice.itertext())
        return 200, {"Content-Type": "audio/wav"}, wav_bytes(speech_pcm(record.spoken, sample_rate), sample_rate)

    def _google(self, record: Recorded) -> tuple[int, dict[str, str], bytes]:
        self._check_google_key(record)
        self._refuse_unless(record.headers.get("Content-Type", "").startswith("application/json"), "Content-Type is not JSON")
        request = json.loads(record.body)
        voice = request.get("voice") or {}
        self._refuse_unless(bool(voice.get("languageCode")) and bool(voice.get("name")), "voice needs languageCode and name")
        self._refuse_unless(voice["name"].startswith(voice["languageCode"]), "voice name is not in its languageCode")
        self._refuse_unless(request.get("audioConfig", {}).get("audioEncoding") == "LINEAR16", "audioEncoding is not LINEAR16")
        self._refuse_unless(request.get("enableTimePointing") == ["SSML_MARK"], "enableTimePointing is not [SSML_MARK]")
        try:
            speak = ElementTree.fromstring(request["input"]["ssml"])
        except (KeyError, ElementTree.ParseError) as error:
            self._refuse_unless(False, f"input.ssml is missing or not well-formed: {error}")
        marks = [(mark.get("name"), (mark.tail or "").strip()) for mark in speak.iter("mark")]
        self._refuse_unless(bool(marks) and all(name for name, _ in marks), "SSML has no named <mark>s")
        record.voice = voice["name"]
        record.spoken = "".join(speak.itertext())
        pcm = speech_pcm(record.spoken, self.google_rate)
        answer = {"audioContent": base64.b64encode(wav_bytes(pcm, self.google_rate)).decode(),
                  "timepoints": self.timepoints(marks, len(pcm) / 2 / self.google_rate)}  # fmt: skip
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    @staticmethod
    def timepoints(marks: list[tuple[str, str]], duration: float) -> list[dict]:
        """Each mark timed at its share of the text so far, as proto3 JSON writes it: a time of
        0 is left out."""
        total = sum(len(word) + 1 for _, word in marks) or 1
        points, offset = [], 0
        for name, word in marks:
            time_seconds = round(duration * offset / total, 3)
            points.append({"markName": name, **({"timeSeconds": time_seconds} if time_seconds else {})})
            offset += len(word) + 1
        return points

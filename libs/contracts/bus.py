"""Messages on the ZeroMQ bus between the API (broker) and renderer workers (DESIGN §3).

One msgpack frame per message; the `type` tag selects the Struct. Evolution rules: new fields
get defaults, never reorder or retype, unknown fields are skipped on decode. Every frame is
first read as an `Envelope` (its type and protocol version only), so a peer speaking another
version is recognised as such rather than as garbage.
"""

from enum import Enum
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import LexiconEntry, Script
from libs.contracts.theme import ThemeAssets

if TYPE_CHECKING:
    # PEP 747 (typing.TypeForm from Python 3.14): a union such as ApiToRenderer is a type
    # expression but not a `type`; msgspec's Decoder takes the same.
    from typing_extensions import TypeForm

PROTOCOL_VERSION = 3
"""2: Heartbeat/Ready count the Renders received, JobFinished carries its final progress,
RenderRefused and Incompatible exist. 3: each connection of a worker has its own routing id
(`routing_id`), so the broker hears a replaced connection at once."""


def routing_id(worker_id: str, connection: str) -> bytes:
    """The ROUTER routing id of one DEALER connection of `worker_id`: unique per connection, so
    a connection that replaces an older one is never mistaken for it (libzmq's ROUTER ignores a
    second connection under a routing id it still holds), yet naming the worker, so whatever
    the connection sends is the worker's word. Worker ids cannot contain "/"."""
    return f"{worker_id}/{connection}".encode()


def worker_of(identity: bytes) -> str:
    """The worker id a routing id names (a routing id without a connection part is all id)."""
    return identity.decode(errors="replace").partition("/")[0]


class Envelope(msgspec.Struct):
    """What every message of every version has: decoded before the message itself."""

    type: str
    protocol_version: int = 1


class ProtocolMismatch(ValueError):
    """A well-formed message of another protocol version."""

    def __init__(self, message_type: str, version: int) -> None:
        super().__init__(f"{message_type} of protocol {version}, not {PROTOCOL_VERSION}")
        self.message_type = message_type
        self.version = version


class Message(msgspec.Struct, kw_only=True, frozen=True, tag_field="type", tag=str.lower):
    protocol_version: int = PROTOCOL_VERSION


class RunningJob(msgspec.Struct, kw_only=True, frozen=True):
    """The job a worker is busy with, so a restarted API can re-attach it."""

    job_id: str
    attempt: int


class VoiceInfo(msgspec.Struct, kw_only=True, frozen=True):
    """One voice a renderer can speak now (SPEC §8.1 `GET /api/v2/voices`)."""

    voice: str
    """The spec a script's `voice` names it by: ENGINE[:MODEL][#VOICE]."""
    engine: str
    language: str
    """BCP-47 tag (ko-KR, en); its primary subtag is what `?language=` filters on."""
    name: str
    gender: str = ""
    kind: str = "neural"
    """neural | formant"""
    where: str = "local"
    """local | cloud"""
    sample_rate: int


class EngineUsage(msgspec.Struct, kw_only=True, frozen=True):
    """What one attempt asked of one TTS engine, for the API's /metrics."""

    engine: str
    characters: int = 0
    """Characters sent to the engine (cache hits excluded)."""
    requests: int = 0
    cache_hits: int = 0
    errors: dict[str, int] = {}
    """Failed requests by kind: rate_limited, server_error, timeout, auth, bad_audio, circuit_open, …"""


# --- renderer -> API (DEALER -> ROUTER) -------------------------------------------------


class Ready(Message, kw_only=True, frozen=True):
    """A worker (re)connects; `running_job` is set if it is still rendering after an API restart."""

    worker_id: str
    engines: list[str] = []
    """The TTS engines this worker can run (its default engine first)."""
    running_job: RunningJob | None = None
    renders_received: int = 0
    """How many Render messages this worker process has received: see Heartbeat."""
    incarnation: str = ""
    """Random per worker process: a new connection of the same process replaces its old one at
    once; another process under a registered id waits until the registered one is gone."""
    voices: list[VoiceInfo] = []
    """The voices this worker can speak (its engines' catalogs)."""


class Heartbeat(Message, kw_only=True, frozen=True):
    """Sent both ways every second from a timer independent of rendering."""

    running_job: RunningJob | None = None
    renders_received: int = 0
    """Renders this worker had received when it sent this heartbeat. A heartbeat that does not
    name the attempt the broker gave it counts as "lost" only once it has seen that Render:
    one sent before the Render arrived is merely old, however late it is read."""
    engines: list[str] = []
    incarnation: str = ""
    """Random per process, both ways. From a worker, as in its Ready: a broker that never heard
    this worker's Ready (it restarted, or took over the dispatcher role) adopts it from a
    heartbeat with all it offers. From a broker: a worker that hears a new one says Ready again,
    so a broker that adopted it from a heartbeat also learns its voices."""


class Outcome(str, Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


VIDEO_FILE = "video.mp4"
CHAPTERS_FILE = "chapters.vtt"
WORDS_FILE = "words.json"


class RenderedAssets(msgspec.Struct, kw_only=True, frozen=True):
    """Published files, relative to the storage key `{video_id}/{job_id}`."""

    video: str = VIDEO_FILE
    srt: str = "subtitles.srt"
    vtt: str = "subtitles.vtt"
    thumbnail: str = "thumbnail.jpg"
    chapters: str | None = None
    """One WebVTT cue per scene; None in asset sets rendered before chapters were."""
    words: str | None = None
    """Every spoken word's time (JSON), when the script's captions time words."""
    duration_sec: float
    sizes: dict[str, int] = {}
    voice_used: str = ""
    """The voice spec that actually spoke the whole video (the script's, or its fallback)."""


class JobFinished(Message, kw_only=True, frozen=True):
    """The outcome of one attempt; resent by the worker until the API answers with `Ack`."""

    job_id: str
    attempt: int
    outcome: Outcome
    assets: RenderedAssets | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    retryable: bool = False
    step_seconds: dict[Step, float] = {}
    """Wall time of each step this attempt completed (for the API's step histograms)."""
    final_progress: list["Progress"] = []
    """The newest Progress of each step this attempt reported, oldest first. PUB/SUB and this
    DEALER are not ordered with each other, so the broker stores those it has not seen yet in
    the same transaction as the outcome: no step change is lost and nothing waits for PUB/SUB."""
    tts_usage: list[EngineUsage] = []
    """What this attempt asked of each TTS engine it used (also when it failed)."""


class RenderRefused(Message, kw_only=True, frozen=True):
    """A NACK: the worker cannot take this Render (it is busy with `running_job`); the broker
    puts the job back in the queue at once."""

    job_id: str
    attempt: int
    reason: str
    running_job: RunningJob | None = None


class Disconnect(Message, kw_only=True, frozen=True):
    """A worker shuts down cleanly; the API forgets it at once instead of waiting for expiry."""


class PreviewAudio(Message, kw_only=True, frozen=True):
    """The answer to a PreviewRequest: the audio, or why there is none."""

    request_id: str
    audio: bytes = b""
    content_type: str = "audio/wav"
    voice_used: str = ""
    error_code: ErrorCode | None = None
    error_message: str | None = None
    tts_usage: list[EngineUsage] = []


class ScenePreviewVideo(Message, kw_only=True, frozen=True):
    """The answer to a ScenePreviewRequest: the scene's MP4, or why there is none."""

    request_id: str
    video: bytes = b""
    voice_used: str = ""
    error_code: ErrorCode | None = None
    error_message: str | None = None
    tts_usage: list[EngineUsage] = []


# --- API -> renderer (ROUTER -> DEALER) -------------------------------------------------


class OutputSpec(msgspec.Struct, kw_only=True, frozen=True):
    width: int = 1920
    height: int = 1080
    fps: int | None = None
    """None: variable frame rate, one encoded frame per picture change."""
    crf: int = 23
    storage_key: str
    """Where the published files go: `{video_id}/{job_id}` under the asset storage."""


class Render(Message, kw_only=True, frozen=True):
    job_id: str
    video_id: str
    attempt: int
    script: Script
    output: OutputSpec
    lexicon: list[LexiconEntry] = []
    """The pronunciations in force when the job was created (video's and script's merged, the
    script's winning): applied to what is spoken, never to captions."""
    theme: ThemeAssets | None = None
    """The script's theme as it was when the job was created, its media resolved; None: the
    default look."""
    deadline_sec: float | None = None
    """Seconds this attempt had left when the broker sent it (its deadline in the job table);
    None: none known. Retries of a cloud voice stop in time for the job to fail with the
    provider's answer, or for its fallback voice to speak, before the attempt times out."""


class Cancel(Message, kw_only=True, frozen=True):
    job_id: str
    attempt: int | None = None
    """The attempt to stop; None: whichever the worker runs. A worker that does not run it yet
    remembers it, so a Render of that attempt still on its way is answered CANCELED at once,
    while a later attempt of the same job (a retry after a timeout's Cancel) still renders."""


class PreviewRequest(Message, kw_only=True, frozen=True):
    """Speak `text` with `voice` now, beside any render (the worker's preview lane)."""

    request_id: str
    voice: str
    language: str
    text: str
    lexicon: list[LexiconEntry] = []


class ScenePreviewRequest(Message, kw_only=True, frozen=True):
    """Render `script`, a script cut to the one scene to preview, as its video would be rendered,
    now and beside any render (the worker's preview lane), and answer with the MP4: nothing is
    stored, so `output.storage_key` is empty."""

    request_id: str
    video_id: str
    """Whose media the scene shows."""
    script: Script
    output: OutputSpec
    lexicon: list[LexiconEntry] = []
    """As a Render's: the video's and the script's merged, the script's winning."""
    theme: ThemeAssets | None = None
    """As a Render's, resolved as a job created now would keep it; None: the default look."""
    deadline_sec: float | None = None
    """Seconds the API waits for the answer: a cloud voice's retries stop in time for it."""


class Ack(Message, kw_only=True, frozen=True):
    job_id: str
    attempt: int


class Incompatible(Message, kw_only=True, frozen=True):
    """The broker's answer to a message of another protocol version; its envelope carries the
    broker's version, which is all a worker of any version needs to read."""

    reason: str


# --- renderer -> API (PUB -> SUB) -------------------------------------------------------


class Progress(Message, kw_only=True, frozen=True):
    """Latest-wins progress; may be dropped by PUB/SUB, so nothing depends on every one arriving."""

    job_id: str
    video_id: str
    attempt: int
    seq: int
    step: Step
    progress: int
    message: str = ""
    ts: float


RendererToApi = Ready | Heartbeat | JobFinished | RenderRefused | Disconnect | PreviewAudio | ScenePreviewVideo
ApiToRenderer = Render | Cancel | Ack | Heartbeat | Incompatible | PreviewRequest | ScenePreviewRequest
PreviewAsk = PreviewRequest | ScenePreviewRequest
"""What a worker's preview lane takes."""
PreviewAnswer = PreviewAudio | ScenePreviewVideo
"""What it answers, one for each PreviewAsk (by its request_id)."""


IncomingT = TypeVar("IncomingT")
"""What a Codec decodes: one message type, or the union of those one socket direction carries."""


class Codec(Generic[IncomingT]):
    """One encoder and one typed decoder per socket direction (msgspec perf advice)."""

    def __init__(self, incoming: "TypeForm[IncomingT]") -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._envelope = msgspec.msgpack.Decoder(Envelope)
        self._decoder: msgspec.msgpack.Decoder[IncomingT] = msgspec.msgpack.Decoder(incoming)

    def encode(self, message: Message) -> bytes:
        return self._encoder.encode(message)

    def decode(self, frame: bytes) -> IncomingT:
        """Raises ProtocolMismatch for a message of another version, msgspec.DecodeError
        (incl. ValidationError) on garbage or unknown tags."""
        envelope = self._envelope.decode(frame)
        if envelope.protocol_version != PROTOCOL_VERSION:
            raise ProtocolMismatch(envelope.type, envelope.protocol_version)
        return self._decoder.decode(frame)


def renderer_codec() -> Codec[ApiToRenderer]:
    """For a worker's DEALER: decodes what the API sends."""
    return Codec(ApiToRenderer)


def api_command_codec() -> Codec[RendererToApi]:
    """For the API's ROUTER: decodes what workers send."""
    return Codec(RendererToApi)


def progress_codec() -> Codec[Progress]:
    return Codec(Progress)

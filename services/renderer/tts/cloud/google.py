"""Google Cloud Text-to-Speech through its REST API (SPEC §8.1): one request per sentence.

v1beta1 rather than v1 for synthesis: only it returns timepoints, the times of the SSML
`<mark>`s placed before each word, which become the engine's word timings.
"""

import base64
import binascii
import functools
import json
import threading
import time
from dataclasses import dataclass

import httpx

from libs.contracts.bus import VoiceInfo
from services.renderer.settings import RendererSettings, Secret
from services.renderer.tts.base import (
    Availability,
    ProviderError,
    SynthesisError,
    UsageCounter,
)
from services.renderer.tts.cloud.catalog import VoiceCatalog
from services.renderer.tts.cloud.engine import CloudEngine, SpokenSentence, voice_locale
from services.renderer.tts.cloud.limits import CloudLimits
from services.renderer.tts.cloud.ssml import SENTENCE_BREAK, xml_text
from services.renderer.tts.cloud.transport import CloudTransport
from services.renderer.tts.cloud.wav import decode_wav

MAX_REQUEST_BYTES = 5_000
"""Google refuses a request whose input is longer (about 1,660 Hangul characters)."""
NATURAL_SAMPLE_RATE = 24_000

DEFAULT_VOICES = {
    "ko": "ko-KR-Neural2-A",
    "en": "en-US-Neural2-F",
    "ja": "ja-JP-Neural2-B",
    "zh": "cmn-CN-Wavenet-A",
    "de": "de-DE-Neural2-A",
    "fr": "fr-FR-Neural2-A",
    "es": "es-ES-Neural2-A",
}


def _voice(name: str, language: str, gender: str, sample_rate: int = NATURAL_SAMPLE_RATE) -> VoiceInfo:
    return VoiceInfo(
        voice=f"google#{name}",
        engine="google",
        language=language,
        name=name,
        gender=gender,
        kind="neural",
        where="cloud",
        sample_rate=sample_rate,
    )


STATIC_VOICES = [
    _voice("ko-KR-Neural2-A", "ko-KR", "female"),
    _voice("ko-KR-Neural2-C", "ko-KR", "male"),
    _voice("en-US-Neural2-F", "en-US", "female"),
    _voice("en-US-Neural2-D", "en-US", "male"),
]
"""Offered while the voice list cannot be fetched."""


@dataclass(frozen=True)
class GoogleConfig:
    key: Secret | None
    endpoint: str
    limits: CloudLimits

    @classmethod
    def from_settings(cls, settings: RendererSettings) -> "GoogleConfig":
        return cls(
            key=settings.google_tts_api_key,
            endpoint=settings.google_tts_endpoint.rstrip("/"),
            limits=CloudLimits.from_settings(settings),
        )


def google_engine(settings: RendererSettings) -> "GoogleEngine":
    """The process's engine for these settings."""
    return _google_engine_for(GoogleConfig.from_settings(settings))


@functools.cache
def _google_engine_for(config: GoogleConfig) -> "GoogleEngine":
    # One per configuration and process: `get_engine` builds an engine for every job, but the
    # circuit breaker, the request rate cap and the connection pool must be shared by all of them.
    return GoogleEngine(config)


def google_ssml(text: str) -> tuple[str, list[str]]:
    """(SSML with a mark `w<N>` before word N, the words): the marks' timepoints time the words."""
    words = text.split()
    marked = " ".join(f'<mark name="w{index}"/>{xml_text(word)}' for index, word in enumerate(words))
    return f"<speak>{marked}{SENTENCE_BREAK}</speak>", words


class GoogleEngine(CloudEngine):
    name = "google"
    model_id = "google-rest v1beta1 LINEAR16"
    default_voices = DEFAULT_VOICES
    output_sample_rate = NATURAL_SAMPLE_RATE

    def __init__(self, config: GoogleConfig) -> None:
        self.config = config
        transport = CloudTransport(
            self.name, config.limits, secret=config.key, credential_hint="GOOGLE_TTS_API_KEY", refuses_key=_invalid_key
        )
        super().__init__(transport, VoiceCatalog(self.name, self._fetch_voices, STATIC_VOICES))

    def available(self) -> Availability:
        if not self.config.key:
            return Availability("GOOGLE_TTS_API_KEY is not set")
        if not self.config.endpoint.startswith(("https://", "http://")):
            return Availability(f"GOOGLE_TTS_ENDPOINT {self.config.endpoint!r} is not an http(s) URL")
        return Availability()

    def _check_sentence(self, sentence: str, voice: str) -> None:
        size = len(google_ssml(sentence)[0].encode())
        if size > MAX_REQUEST_BYTES:
            raise SynthesisError(
                f"google: a sentence of {len(sentence)} characters is {size} bytes of SSML, over Google's "
                f"{MAX_REQUEST_BYTES}-byte limit per request: split it",
                retryable=False,
            )

    def _speak(
        self, sentence: str, voice: str, rate: float, *, stop: threading.Event, deadline: float, usage: UsageCounter | None
    ) -> SpokenSentence:
        ssml, words = google_ssml(sentence)
        body = {
            "input": {"ssml": ssml},
            "voice": {"languageCode": voice_locale(voice), "name": voice},
            "audioConfig": {"audioEncoding": "LINEAR16", "speakingRate": rate},
            "enableTimePointing": ["SSML_MARK"],
        }
        response = self.transport.send(
            "POST",
            f"{self.config.endpoint}/v1beta1/text:synthesize",
            headers={**self._auth(), "Content-Type": "application/json"},
            content=json.dumps(body, ensure_ascii=False).encode(),
            characters=len(sentence),
            deadline=deadline,
            cancel=stop,
            usage=usage,
        )
        audio, word_starts = self._read_answer(response.content, words)
        pcm, sample_rate = decode_wav(audio, self.name)
        return SpokenSentence(pcm, sample_rate, word_starts)

    def _read_answer(self, content: bytes, words: list[str]) -> tuple[bytes, list[tuple[float, str]]]:
        """(the WAV bytes, the words' start times) of a synthesize answer; a malformed one is bad audio."""
        try:
            answer = json.loads(content)
            audio = base64.b64decode(answer["audioContent"], validate=True)
            return audio, _word_starts(answer.get("timepoints") or [], words)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:
            raise ProviderError(
                f"google answered no readable audioContent ({len(content)} bytes: {type(error).__name__})",
                kind="bad_audio",
                retryable=True,
            ) from error

    def _auth(self) -> dict[str, str]:
        # In a header, not `?key=` in the URL, so the key never lands in a logged URL.
        return {"X-Goog-Api-Key": str(self.config.key)}

    def _fetch_voices(self) -> list[VoiceInfo]:
        response = self.transport.send(
            "GET", f"{self.config.endpoint}/v1/voices", headers=self._auth(),
            deadline=time.monotonic() + self.config.limits.request_timeout_sec, cancel=threading.Event(),
        )  # fmt: skip
        try:
            return [
                _voice(entry["name"], entry["languageCodes"][0], _gender(entry.get("ssmlGender")),
                       int(entry.get("naturalSampleRateHertz") or NATURAL_SAMPLE_RATE))
                for entry in response.json().get("voices", [])
                if entry.get("name") and entry.get("languageCodes")
            ]  # fmt: skip
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as error:
            raise ProviderError(f"google: unreadable voice list: {error}", kind="bad_request", retryable=True) from error


def _word_starts(timepoints: list, words: list[str]) -> list[tuple[float, str]]:
    """(seconds, word) for each `w<N>` mark Google timed; proto3 JSON leaves out a time of 0."""
    starts = []
    for point in timepoints:
        name = str(point.get("markName", ""))
        index = int(name[1:]) if name.startswith("w") and name[1:].isdigit() else -1
        if 0 <= index < len(words):
            starts.append((float(point.get("timeSeconds") or 0.0), words[index]))
    return starts


def _invalid_key(response: httpx.Response) -> bool:
    """Google answers a wrong API key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID."""
    return response.status_code == 400 and "API_KEY_INVALID" in response.text


def _gender(ssml_gender: str | None) -> str:
    return {"FEMALE": "female", "MALE": "male", "NEUTRAL": "neutral"}.get(ssml_gender or "", "")

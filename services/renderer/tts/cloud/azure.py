"""Azure AI Speech through its REST API (SPEC §8.1): one SSML request per sentence.

Azure's REST call returns audio only, so sentences are timed from their audio and words are
not timed (word boundaries exist only in the SDK's websocket protocol and the batch API).
"""

import functools
import threading
import time
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from libs.contracts.bus import VoiceInfo
from services.renderer.settings import RendererSettings, Secret
from services.renderer.tts.base import Availability, ProviderError, UsageCounter
from services.renderer.tts.cloud.catalog import VoiceCatalog
from services.renderer.tts.cloud.engine import CloudEngine, SpokenSentence, voice_locale
from services.renderer.tts.cloud.limits import CloudLimits
from services.renderer.tts.cloud.ssml import SENTENCE_BREAK, prosody_rate, xml_text
from services.renderer.tts.cloud.transport import CloudTransport
from services.renderer.tts.cloud.wav import decode_wav

OUTPUT_FORMAT = "riff-24khz-16bit-mono-pcm"
"""24 kHz is the neural voices' own rate; RIFF so the rate is read from the answer, not assumed."""
OUTPUT_SAMPLE_RATE = 24_000

DEFAULT_VOICES = {
    "ko": "ko-KR-SunHiNeural",
    "en": "en-US-JennyNeural",
    "ja": "ja-JP-NanamiNeural",
    "zh": "zh-CN-XiaoxiaoNeural",
    "de": "de-DE-KatjaNeural",
    "fr": "fr-FR-DeniseNeural",
    "es": "es-ES-ElviraNeural",
}


def _voice(short_name: str, name: str, gender: str) -> VoiceInfo:
    return VoiceInfo(
        voice=f"azure#{short_name}",
        engine="azure",
        language=voice_locale(short_name),
        name=name,
        gender=gender,
        kind="neural",
        where="cloud",
        sample_rate=OUTPUT_SAMPLE_RATE,
    )


STATIC_VOICES = [
    _voice("ko-KR-SunHiNeural", "SunHi", "female"),
    _voice("ko-KR-InJoonNeural", "InJoon", "male"),
    _voice("en-US-JennyNeural", "Jenny", "female"),
    _voice("en-US-GuyNeural", "Guy", "male"),
]
"""Offered while the voice list cannot be fetched."""


@dataclass(frozen=True)
class AzureConfig:
    key: Secret | None
    region: str | None
    endpoint: str | None
    limits: CloudLimits

    @classmethod
    def from_settings(cls, settings: RendererSettings) -> "AzureConfig":
        return cls(
            key=settings.azure_speech_key,
            region=settings.azure_speech_region,
            endpoint=settings.azure_speech_endpoint,
            limits=CloudLimits.from_settings(settings),
        )

    @property
    def base_url(self) -> str | None:
        if self.endpoint:
            return self.endpoint.rstrip("/")
        return f"https://{self.region}.tts.speech.microsoft.com" if self.region else None


def azure_engine(settings: RendererSettings) -> "AzureEngine":
    """The process's engine for these settings."""
    return _azure_engine_for(AzureConfig.from_settings(settings))


@functools.cache
def _azure_engine_for(config: AzureConfig) -> "AzureEngine":
    # One per configuration and process: `get_engine` builds an engine for every job, but the
    # circuit breaker, the request rate cap and the connection pool must be shared by all of them.
    return AzureEngine(config)


def azure_ssml(text: str, voice: str, rate: float) -> str:
    return (
        f'<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang={quoteattr(voice_locale(voice))}>'
        f'<voice name={quoteattr(voice)}><prosody rate="{prosody_rate(rate)}">{xml_text(text)}</prosody>'
        f"{SENTENCE_BREAK}</voice></speak>"
    )


class AzureEngine(CloudEngine):
    name = "azure"
    model_id = f"azure-rest {OUTPUT_FORMAT}"
    default_voices = DEFAULT_VOICES
    output_sample_rate = OUTPUT_SAMPLE_RATE

    def __init__(self, config: AzureConfig) -> None:
        self.config = config
        transport = CloudTransport(
            self.name, config.limits, secret=config.key,
            credential_hint="AZURE_SPEECH_KEY (and that AZURE_SPEECH_REGION or AZURE_SPEECH_ENDPOINT is the key's region)",
        )  # fmt: skip
        super().__init__(transport, VoiceCatalog(self.name, self._fetch_voices, STATIC_VOICES))

    def available(self) -> Availability:
        if not self.config.key:
            return Availability("AZURE_SPEECH_KEY is not set")
        if not self.config.base_url:
            return Availability("neither AZURE_SPEECH_REGION nor AZURE_SPEECH_ENDPOINT is set")
        if not self.config.base_url.startswith(("https://", "http://")):
            return Availability(f"AZURE_SPEECH_ENDPOINT {self.config.base_url!r} is not an http(s) URL")
        return Availability()

    def _speak(
        self, sentence: str, voice: str, rate: float, *, stop: threading.Event, deadline: float, usage: UsageCounter | None
    ) -> SpokenSentence:
        response = self.transport.send(
            "POST",
            f"{self.config.base_url}/cognitiveservices/v1",
            headers={**self._auth(), "Content-Type": "application/ssml+xml", "X-Microsoft-OutputFormat": OUTPUT_FORMAT},
            content=azure_ssml(sentence, voice, rate).encode(),
            characters=len(sentence),
            deadline=deadline,
            cancel=stop,
            usage=usage,
        )
        pcm, sample_rate = decode_wav(response.content, self.name)
        return SpokenSentence(pcm, sample_rate)

    def _auth(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": str(self.config.key)}

    def _fetch_voices(self) -> list[VoiceInfo]:
        response = self.transport.send(
            "GET", f"{self.config.base_url}/cognitiveservices/voices/list", headers=self._auth(),
            deadline=time.monotonic() + self.config.limits.request_timeout_sec, cancel=threading.Event(),
        )  # fmt: skip
        try:
            return [
                _voice(entry["ShortName"], entry.get("DisplayName") or entry.get("LocalName") or entry["ShortName"],
                       str(entry.get("Gender", "")).lower())
                for entry in response.json()
                if entry.get("ShortName")
            ]  # fmt: skip
        except (ValueError, TypeError, AttributeError) as error:
            raise ProviderError(f"azure: unreadable voice list: {error}", kind="bad_request", retryable=True) from error

"""What the cloud engines share: choosing the voice, speaking sentences concurrently through
the process's transport, and joining them into one result."""

import logging
import re
import threading
from dataclasses import dataclass, field

from libs.contracts.bus import VoiceInfo
from services.renderer.tts.base import (
    SAMPLE_WIDTH,
    Availability,
    ProviderError,
    SentenceDone,
    SynthesisError,
    SynthesisResult,
    UsageCounter,
    Word,
    spans_from_lengths,
)
from services.renderer.tts.cloud.catalog import VoiceCatalog
from services.renderer.tts.cloud.ordered import run_in_order
from services.renderer.tts.cloud.transport import CloudTransport

log = logging.getLogger(__name__)

_VOICE_NAME = re.compile(r"[a-z]{2,3}-[A-Za-z0-9]{2,4}-[A-Za-z0-9-]+")
"""Both providers name voices locale first (ko-KR-SunHiNeural, cmn-CN-Wavenet-A)."""


def voice_locale(voice: str) -> str:
    """The BCP-47 locale a provider's voice name starts with: ko-KR-Neural2-A -> ko-KR."""
    language, region, _ = voice.split("-", 2)
    return f"{language}-{region}"


@dataclass(frozen=True)
class SpokenSentence:
    pcm: bytes
    sample_rate: int
    word_starts: list[tuple[float, str]] = field(default_factory=list)
    """(seconds from the sentence's start, word), where the provider timed its words."""


class CloudEngine:
    """A provider's engine; subclasses say how one sentence is asked for (`_speak`)."""

    name: str
    model_id: str
    default_voices: dict[str, str]
    """Primary language subtag -> the voice spoken when a script names none."""
    output_sample_rate = 24_000
    """What an empty result claims; real results carry the rate the provider answered."""

    def __init__(self, transport: CloudTransport, catalog: VoiceCatalog) -> None:
        self.transport = transport
        self.catalog = catalog

    @property
    def concurrency(self) -> int:
        return self.transport.limits.concurrency

    @property
    def languages(self) -> frozenset[str] | None:
        """None: providers speak far more languages than the default voices cover; a script
        in any of them may name a voice."""
        return None

    def available(self) -> Availability:
        raise NotImplementedError

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        self._prepare(sentences, language, voice)

    def synthesize(
        self,
        sentences: list[str],
        language: str,
        voice: str | None,
        cancel: threading.Event,
        on_sentence: SentenceDone | None = None,
        *,
        rate: float = 1.0,
        usage: UsageCounter | None = None,
        deadline: float | None = None,
    ) -> SynthesisResult:
        """As `TtsEngine.synthesize`; `deadline` (monotonic) bounds the whole call, retries
        included; None gives `CloudLimits.default_deadline`."""
        voice_name = self._prepare(sentences, language, voice)
        deadline = deadline if deadline is not None else self.transport.limits.default_deadline(len(sentences))

        def speak(sentence: str, stop: threading.Event) -> SpokenSentence:
            try:
                return self._speak(sentence, voice_name, rate, stop=stop, deadline=deadline, usage=usage)
            except ProviderError as error:
                # The transport counted the faults it saw; audio is judged only after it returns.
                if error.kind == "bad_audio" and usage is not None:
                    usage.error(error.kind)
                raise

        spoken = run_in_order(sentences, speak, concurrency=self.transport.limits.concurrency, cancel=cancel, on_done=on_sentence)
        return self._join(spoken)

    def voices(self) -> list[VoiceInfo]:
        return self.catalog.voices() if self.available().ok else []

    def _speak(
        self, sentence: str, voice: str, rate: float, *, stop: threading.Event, deadline: float, usage: UsageCounter | None
    ) -> SpokenSentence:
        raise NotImplementedError

    def _check_sentence(self, sentence: str, voice: str) -> None:
        """Raises SynthesisError for a sentence the provider would refuse (too long, …)."""

    def _prepare(self, sentences: list[str], language: str, voice: str | None) -> str:
        availability = self.available()
        if not availability.ok:
            raise SynthesisError(f"{self.name}: {availability.reason}", retryable=False)
        voice_name = self._choose_voice(language, voice)
        for sentence in sentences:
            self._check_sentence(sentence, voice_name)
        return voice_name

    def _choose_voice(self, language: str, voice: str | None) -> str:
        if voice and _VOICE_NAME.fullmatch(voice):
            return voice
        if voice:
            log.warning(
                "%s: %r is not a voice name such as %s; using the default voice for %r",
                self.name,
                voice,
                self.default_voices["en"],
                language,
            )
        default = self.default_voices.get(language.split("-")[0].lower())
        if default is None:
            raise SynthesisError(
                f"{self.name} has no default voice for language {language!r}; name one in the script's voice, "
                f"e.g. {self.name}#{self.default_voices['en']}",
                retryable=False,
            )
        return default

    def _join(self, spoken: list[SpokenSentence]) -> SynthesisResult:
        rates = sorted({piece.sample_rate for piece in spoken})
        if len(rates) > 1:
            message = f"{self.name} answered sentences at different sample rates {rates}"
            raise ProviderError(message, kind="bad_audio", retryable=True)
        sample_rate = rates[0] if rates else self.output_sample_rate
        spans = spans_from_lengths([len(piece.pcm) // SAMPLE_WIDTH for piece in spoken], sample_rate)
        words = [
            word
            for index, (piece, (start, end)) in enumerate(zip(spoken, spans))
            for word in _timed_words(piece.word_starts, index, start, end)
        ]
        return SynthesisResult(
            pcm=b"".join(piece.pcm for piece in spoken), sample_rate=sample_rate, sentence_spans=spans, words=words
        )


def _timed_words(word_starts: list[tuple[float, str]], sentence: int, start: float, end: float) -> list[Word]:
    """Each word lasts until the next one starts; the last one until its sentence ends."""
    ordered = sorted(word_starts)
    starts = [min(end, start + offset) for offset, _ in ordered]
    return [
        Word(start=word_start, end=word_end, text=text, sentence=sentence)
        for word_start, word_end, (_, text) in zip(starts, [*starts[1:], end], ordered)
    ]

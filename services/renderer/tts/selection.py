"""Which engine and voice narrate a script, and what to try when that one cannot.

A voice spec is `ENGINE[:MODEL][#VOICE]` (`coqui:vits-ko`, `coqui:xtts_v2#Ana Florence`,
`espeak#en+f3`, `azure#ko-KR-SunHiNeural`), an alias from TTS_VOICE_ALIASES, or a bare voice of
the default engine (`en+f3`). The script's `voice` picks one, else TTS_ENGINE does. What to try
when it cannot run or cannot say the script: the script's `voice_fallback` when it names a
voice, else the operator's TTS_FALLBACK, which lists per language the specs to try in turn,
e.g. `ko:coqui>espeak,*:espeak` (`*`: any language without its own entry). Whichever voice
narrates, it narrates the whole video.
"""

import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from services.renderer.settings import RendererSettings
from services.renderer.tts import engine_names, get_engine
from services.renderer.tts.base import SentenceDone, SynthesisError, SynthesisResult, TtsEngine, UsageCounter
from services.renderer.tts.cache import CacheCounts, CachingEngine, SynthesisCache

log = logging.getLogger(__name__)

ANY_LANGUAGE = "*"


@dataclass(frozen=True)
class VoiceSpec:
    engine: str
    model: str | None
    voice: str | None
    text: str
    """As configured or written in the script, for messages."""
    from_script: bool
    """Written by a script author rather than the operator: may name only models under COQUI_MODEL_ROOT."""

    @property
    def canonical(self) -> str:
        """ENGINE[:MODEL][#VOICE] with aliases resolved: what `voice_used` reports."""
        return f"{self.engine}{f':{self.model}' if self.model else ''}{f'#{self.voice}' if self.voice else ''}"


def _pairs(setting: str, text: str, separator: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, found, value = item.partition(separator)
        if not (found and key.strip() and value.strip()):
            raise SynthesisError(f"{setting}: {item!r} is not KEY{separator}VALUE", retryable=False)
        pairs.append((key.strip(), value.strip()))
    return pairs


def parse_aliases(text: str) -> dict[str, str]:
    return dict(_pairs("TTS_VOICE_ALIASES", text, "="))


def parse_fallback(text: str) -> dict[str, list[str]]:
    pairs = _pairs("TTS_FALLBACK", text, ":")
    return {language.lower(): [spec.strip() for spec in chain.split(">")] for language, chain in pairs}


def parse_spec(text: str, settings: RendererSettings, *, from_script: bool) -> VoiceSpec:
    aliases = parse_aliases(settings.tts_voice_aliases)
    if text in aliases:
        text, from_script = aliases[text], False
    head, _, voice = text.partition("#")
    engine, _, model = head.partition(":")
    if engine not in engine_names():
        # Not an engine spec: a voice of the default engine, as before engines could be chosen.
        return VoiceSpec(settings.tts_engine, None, text, text, from_script)
    return VoiceSpec(engine, model or None, voice or None, text, from_script)


def voice_chain(
    settings: RendererSettings, language: str, script_voice: str | None, script_fallback: str | None = None
) -> list[VoiceSpec]:
    """The voice the script asks for (or TTS_ENGINE), then the script's fallback voice if it
    names one, else its language's TTS_FALLBACK voices after the first one of the same engine
    (all of them when none is)."""
    chosen = (
        parse_spec(script_voice, settings, from_script=True)
        if script_voice
        else parse_spec(settings.tts_engine, settings, from_script=False)
    )
    if script_fallback is not None:
        fallback = parse_spec(script_fallback, settings, from_script=True)
        return [chosen] if fallback == chosen else [chosen, fallback]
    fallbacks = parse_fallback(settings.tts_fallback)
    chain = [parse_spec(text, settings, from_script=False) for text in fallbacks.get(language, fallbacks.get(ANY_LANGUAGE, []))]
    same_engine = next((index for index, spec in enumerate(chain) if spec.engine == chosen.engine), -1)
    specs = [chosen]
    for spec in chain[same_engine + 1 :]:
        if spec not in specs:
            specs.append(spec)
    return specs


def _model_dir(spec: VoiceSpec, settings: RendererSettings) -> Path | None:
    """The coqui model folder a spec names: relative names are under COQUI_MODEL_ROOT; a script
    may name nothing outside it (loading a model runs its pickled checkpoint). None: the
    engine's configured model."""
    if spec.model is None:
        return None
    root = settings.coqui_model_root
    if spec.from_script and root is None:
        raise SynthesisError(
            f"voice {spec.text!r} names a model folder, which scripts may do only under COQUI_MODEL_ROOT (not set)",
            retryable=False,
        )
    folder = (root or Path.cwd()) / spec.model
    if spec.from_script and root is not None and not folder.resolve().is_relative_to(root.resolve()):
        raise SynthesisError(f"voice {spec.text!r} names a model folder outside COQUI_MODEL_ROOT", retryable=False)
    return folder


@functools.cache
def _shared_cache(folder: Path, max_bytes: int) -> SynthesisCache:
    """One per process and folder, so its size estimate lasts across jobs."""
    return SynthesisCache(folder, max_bytes)


class PreparedVoice:
    """One job's engine, behind the sentence cache, with the voice its spec resolved to."""

    def __init__(self, spec: VoiceSpec, engine: CachingEngine) -> None:
        self.spec = spec
        self.engine = engine
        self.name = engine.name
        self.concurrency = engine.concurrency

    @property
    def counts(self) -> CacheCounts:
        return self.engine.counts

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
        # `voice` is the script's voice spec this was prepared from; the engine wants what it resolved to.
        return self.engine.synthesize(
            sentences, language, self.spec.voice, cancel, on_sentence, rate=rate, usage=usage, deadline=deadline
        )


def build_engine(spec: VoiceSpec, settings: RendererSettings) -> TtsEngine:
    """The engine `spec` names, not yet loaded; raises SynthesisError for a spec that cannot be."""
    if spec.engine != "coqui" and spec.model is not None:
        raise SynthesisError(f"voice {spec.text!r}: {spec.engine} takes no model; write {spec.engine}#VOICE", retryable=False)
    model_dir = _model_dir(spec, settings) if spec.engine == "coqui" else None
    try:
        return get_engine(spec.engine, settings, model_dir)
    except KeyError as error:
        raise SynthesisError(error.args[0], retryable=False) from error


def prepare(spec: VoiceSpec, settings: RendererSettings, sentences: list[str], language: str) -> PreparedVoice:
    """The voice `spec` names, checked able to say `sentences`; raises SynthesisError naming why not."""
    engine = build_engine(spec, settings)
    availability = engine.available()
    if not availability.ok:
        log.warning("TTS engine %s is unavailable: %s", spec.text, availability.reason)
        raise SynthesisError(f"{spec.engine} is unavailable: {availability.reason}", retryable=False)
    engine.check(sentences, language, spec.voice)
    cache = _shared_cache(settings.tts_cache_folder.resolve(), int(settings.tts_cache_max_mb * 2**20))
    return PreparedVoice(spec, CachingEngine(engine, cache))

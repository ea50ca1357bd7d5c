"""TTS engines by name (`TTS_ENGINE`, or a script's voice); each implements `TtsEngine` from `base`."""

from collections.abc import Callable
from pathlib import Path

from services.renderer.settings import RendererSettings
from services.renderer.tts.base import TtsEngine
from services.renderer.tts.cloud.azure import AzureEngine, azure_engine
from services.renderer.tts.cloud.engine import CloudEngine
from services.renderer.tts.cloud.google import GoogleEngine, google_engine
from services.renderer.tts.coqui import CoquiEngine
from services.renderer.tts.espeak import EspeakEngine
from services.renderer.tts.supertonic import SupertonicEngine

EngineFactory = Callable[[RendererSettings, Path | None], TtsEngine]
"""Builds an engine from the settings and the model folder a voice spec named (None: the
engine's configured one); cheap: nothing is loaded or fetched until it speaks."""

_ENGINES: dict[str, EngineFactory] = {
    EspeakEngine.name: lambda settings, model_dir: EspeakEngine(),
    AzureEngine.name: lambda settings, model_dir: azure_engine(settings),
    GoogleEngine.name: lambda settings, model_dir: google_engine(settings),
    CoquiEngine.name: lambda settings, model_dir: CoquiEngine(model_dir or settings.coqui_model_dir, settings.coqui_threads),
    SupertonicEngine.name: lambda settings, model_dir: SupertonicEngine(
        model_dir or settings.supertonic_model_dir, settings.supertonic_threads, settings.supertonic_steps
    ),
}


def engine_names() -> list[str]:
    return sorted(_ENGINES)


def get_engine(name: str, settings: RendererSettings | None = None, model_dir: Path | None = None) -> TtsEngine:
    """The engine called `name`; raises KeyError naming the known ones if there is none."""
    try:
        factory = _ENGINES[name]
    except KeyError:
        raise KeyError(f"unknown TTS engine {name!r}; known: {', '.join(engine_names())}") from None
    return factory(settings or RendererSettings(), model_dir)


def usable_engines(settings: RendererSettings) -> tuple[list[str], dict[str, str]]:
    """(the engines this worker offers the broker, why each unusable one cannot run): checked
    cheaply, no model is loaded. A cloud engine is offered even when it is not configured here:
    a job that asks for it then fails at once naming the missing setting (or is voiced by its
    fallback) instead of waiting PENDING for a renderer that may never come. A local engine
    without its model is not offered: another renderer host may have the model."""
    usable, reasons = [], {}
    for name in engine_names():
        engine = get_engine(name, settings)
        availability = engine.available()
        if availability.reason is not None:  # not availability.ok
            reasons[name] = availability.reason
        if availability.ok or isinstance(engine, CloudEngine):
            usable.append(name)
    return usable, reasons

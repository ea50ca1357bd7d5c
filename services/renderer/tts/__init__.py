"""TTS engines by name (`TTS_ENGINE`, or a script's voice); each implements `TtsEngine` from `base`."""

from collections.abc import Callable
from pathlib import Path

from services.renderer.settings import RendererSettings
from services.renderer.tts.base import TtsEngine
from services.renderer.tts.cloud.azure import AzureEngine, azure_engine
from services.renderer.tts.cloud.google import GoogleEngine, google_engine
from services.renderer.tts.coqui import CoquiEngine
from services.renderer.tts.espeak import EspeakEngine

EngineFactory = Callable[[RendererSettings, Path | None], TtsEngine]
"""Builds an engine from the settings and the model folder a voice spec named (None: the
engine's configured one); cheap: nothing is loaded or fetched until it speaks."""

_ENGINES: dict[str, EngineFactory] = {
    EspeakEngine.name: lambda settings, model_dir: EspeakEngine(),
    AzureEngine.name: lambda settings, model_dir: azure_engine(settings),
    GoogleEngine.name: lambda settings, model_dir: google_engine(settings),
    CoquiEngine.name: lambda settings, model_dir: CoquiEngine(model_dir or settings.coqui_model_dir, settings.coqui_threads),
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
    """(the engines that can run here, why each of the others cannot): checked cheaply, no
    model is loaded."""
    usable, reasons = [], {}
    for name in engine_names():
        availability = get_engine(name, settings).available()
        if availability.ok:
            usable.append(name)
        else:
            reasons[name] = availability.reason
    return usable, reasons

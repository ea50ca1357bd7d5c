"""TTS engines by name (`TTS_ENGINE`, or a script's voice); each implements `TtsEngine` from `base`."""

from collections.abc import Callable
from pathlib import Path

from services.renderer.tts.base import TtsEngine
from services.renderer.tts.coqui import CoquiEngine
from services.renderer.tts.espeak import EspeakEngine

_ENGINES: dict[str, Callable[[Path | None, int | None], TtsEngine]] = {
    EspeakEngine.name: lambda model_dir, threads: EspeakEngine(),
    CoquiEngine.name: CoquiEngine,
}


def engine_names() -> list[str]:
    return sorted(_ENGINES)


def get_engine(name: str, model_dir: Path | None = None, threads: int | None = None) -> TtsEngine:
    """The engine called `name` (coqui speaks the model in `model_dir`, computing on `threads`
    CPU threads); raises KeyError naming the known ones if there is none."""
    try:
        factory = _ENGINES[name]
    except KeyError:
        raise KeyError(f"unknown TTS engine {name!r}; known: {', '.join(engine_names())}") from None
    return factory(model_dir, threads)


def usable_engines(model_dir: Path | None, threads: int | None) -> tuple[list[str], dict[str, str]]:
    """(the engines that can run here, why each of the others cannot): checked cheaply, no
    model is loaded."""
    usable, reasons = [], {}
    for name in engine_names():
        availability = get_engine(name, model_dir, threads).available()
        if availability.ok:
            usable.append(name)
        else:
            reasons[name] = availability.reason
    return usable, reasons

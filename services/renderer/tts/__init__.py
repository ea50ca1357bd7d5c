"""TTS engines by name (`TTS_ENGINE`); each implements `TtsEngine` from `base`."""

from collections.abc import Callable

from services.renderer.tts.base import TtsEngine
from services.renderer.tts.espeak import EspeakEngine

_ENGINES: dict[str, Callable[[], TtsEngine]] = {
    EspeakEngine.name: EspeakEngine,
}


def engine_names() -> list[str]:
    return sorted(_ENGINES)


def get_engine(name: str) -> TtsEngine:
    """The engine called `name`; raises KeyError naming the known ones if there is none."""
    try:
        factory = _ENGINES[name]
    except KeyError:
        raise KeyError(f"unknown TTS engine {name!r}; known: {', '.join(engine_names())}") from None
    return factory()

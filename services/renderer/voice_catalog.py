"""The voices a worker offers (SPEC §8.1 catalog): its usable engines' lists, gathered once when
it starts and sent in its Ready, never in heartbeats, which stay small."""

import logging
from collections.abc import Iterable

from libs.contracts.bus import VoiceInfo
from services.renderer.settings import RendererSettings
from services.renderer.tts import get_engine

log = logging.getLogger(__name__)


def gather_voices(engines: Iterable[str], settings: RendererSettings) -> list[VoiceInfo]:
    """Every voice of `engines`. A cloud engine asks its provider once and falls back to a static
    list itself; an engine that fails anyway is left out of the catalog (it still speaks the
    scripts that name it), so one engine's fault costs no other engine its voices."""
    voices: list[VoiceInfo] = []
    for name in engines:
        try:
            voices += get_engine(name, settings).voices()
        except Exception:
            log.exception("TTS engine %s could not list its voices; the catalog goes without them", name)
    return voices

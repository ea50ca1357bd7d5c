"""Which TTS engine a script's `voice` needs, read the same way by the API (to dispatch the job
to a worker that offers it) and the renderer. A voice spec is `ENGINE[:MODEL][#VOICE]`, an
alias from TTS_VOICE_ALIASES (`name=spec,…`), or a bare voice of the worker's default engine."""

ENGINE_NAMES = ("azure", "coqui", "espeak", "google", "supertonic")


def parse_aliases(text: str) -> dict[str, str]:
    """`name=spec,…` as a mapping; items without both sides are left to the renderer to report."""
    aliases = {}
    for item in text.split(","):
        name, found, spec = item.partition("=")
        if found and name.strip() and spec.strip():
            aliases[name.strip()] = spec.strip()
    return aliases


def required_engine(voice: str | None, aliases: dict[str, str]) -> str | None:
    """The engine a voice spec names, or None when any worker's default engine will do."""
    if not voice:
        return None
    engine = aliases.get(voice, voice).partition("#")[0].partition(":")[0]
    return engine if engine in ENGINE_NAMES else None

"""`python -m services.renderer.tts.speed SCRIPT.json VOICE...`: how fast each voice narrates a
script on this machine, without the cache. Prints, per voice spec (as a script's `voice` or
TTS_ENGINE would name it; COQUI_MODEL_DIR etc. come from the environment), the load/check
time and the real-time factor: seconds of audio per second of synthesis (above 1 is faster
than real time)."""

import argparse
import threading
import time
from pathlib import Path

import msgspec

from libs.contracts.script import Script
from services.renderer.settings import RendererSettings
from services.renderer.text import split_sentences
from services.renderer.tts.selection import build_engine, parse_spec, prepare


def measure(spec_text: str, script: Script, settings: RendererSettings) -> str:
    sentences = [sentence for scene in script.scenes for sentence in split_sentences(scene.narration)]
    spec = parse_spec(spec_text, settings, from_script=False)
    started = time.perf_counter()
    prepare(spec, settings, sentences, script.primary_language)  # loads and checks, as a job does
    loaded = time.perf_counter() - started
    engine = build_engine(spec, settings)  # not the prepared one: its cache would answer instead
    started = time.perf_counter()
    result = engine.synthesize(sentences, script.primary_language, spec.voice, threading.Event())
    spoken = time.perf_counter() - started
    return (
        f"{spec_text}: {len(sentences)} sentences, load+check {loaded:.2f} s, "
        f"{result.duration_sec:.1f} s of audio in {spoken:.2f} s, real-time factor {result.duration_sec / spoken:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", type=Path, help="a script JSON file (SPEC §1)")
    parser.add_argument("voices", nargs="+", help="voice specs, e.g. espeak coqui coqui:/models/vits-ko")
    args = parser.parse_args()
    script = msgspec.json.decode(args.script.read_bytes(), type=Script)
    settings = RendererSettings()
    for voice in args.voices:
        print(measure(voice, script, settings), flush=True)


if __name__ == "__main__":
    main()

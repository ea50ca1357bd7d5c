"""The whole script's narration: scene after scene into one PCM file, every sentence timed."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from libs.contracts.script import Script
from libs.lexicon import Pronouncer
from services.renderer.compose import PcmAudio
from services.renderer.subtitles import TimedSentence
from services.renderer.tts.base import SAMPLE_WIDTH, SynthesisError, TtsEngine, UsageCounter

MIN_SCENE_SEC = 0.5
"""A scene whose narration makes (almost) no sound is still shown this long."""

SentencesSpoken = Callable[[int, int], None]
"""Called with (sentences synthesized so far, sentences in the script) after each sentence."""
AudioWritten = Callable[[int, int], None]
"""Called with (bytes in the PCM file, sample rate) after each scene is in the file, readable
from another file handle: what may be encoded while the next scene is spoken."""


@dataclass(frozen=True)
class Narration:
    audio: PcmAudio
    scene_starts: list[float]
    sentences: list[TimedSentence]


def narrate(
    script: Script,
    scene_sentences: list[list[str]],
    engine: TtsEngine,
    pcm_path: Path,
    cancel: threading.Event,
    on_sentence: SentencesSpoken,
    on_audio: AudioWritten | None = None,
    *,
    pronounce: Pronouncer | None = None,
    usage: UsageCounter | None = None,
) -> Narration:
    """Speaks scene after scene into `pcm_path`, each followed by its pause, timing every sentence.

    The engine says each sentence as `pronounce` rewrites it (the lexicon) at the scene's rate;
    the timed sentences keep the written text, which is what captions show."""
    total = sum(map(len, scene_sentences))
    spoken = 0
    scene_starts: list[float] = []
    timed: list[TimedSentence] = []
    written_samples = 0
    sample_rate: int | None = None
    with pcm_path.open("wb") as pcm:
        for scene, sentences in zip(script.scenes, scene_sentences):
            said = [pronounce(sentence) for sentence in sentences] if pronounce else sentences
            result = engine.synthesize(
                said, script.primary_language, script.voice, cancel, lambda done: on_sentence(spoken + done, total),
                rate=script.scene_rate(scene), usage=usage,
            )  # fmt: skip
            if sample_rate is not None and result.sample_rate != sample_rate:
                raise SynthesisError(f"the voice changed its sample rate from {sample_rate} to {result.sample_rate} Hz midway")
            sample_rate = result.sample_rate
            spoken += len(sentences)
            scene_start = written_samples / result.sample_rate
            scene_starts.append(scene_start)
            timed += [
                TimedSentence(text, scene_start + start, scene_start + end)
                for text, (start, end) in zip(sentences, result.sentence_spans)
            ]
            speech_samples = len(result.pcm) // SAMPLE_WIDTH
            scene_samples = max(
                speech_samples + round(scene.pause_sec * result.sample_rate),
                round(MIN_SCENE_SEC * result.sample_rate),
            )
            pcm.write(result.pcm)
            pcm.write(bytes((scene_samples - speech_samples) * SAMPLE_WIDTH))
            written_samples += scene_samples
            if on_audio is not None:
                pcm.flush()
                on_audio(written_samples * SAMPLE_WIDTH, result.sample_rate)
    return Narration(PcmAudio(path=pcm_path, sample_rate=result.sample_rate), scene_starts, timed)

"""The whole script's narration: scene after scene into one PCM file, every sentence timed."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from libs.contracts.script import Scene, Script
from libs.lexicon import Pronouncer, Spoken
from services.renderer.aac import PcmAudio
from services.renderer.subtitles import TimedSentence
from services.renderer.tts.base import SAMPLE_WIDTH, SynthesisError, Synthesizer, UsageCounter, Word
from services.renderer.words import time_words

MIN_SCENE_SEC = 0.5
"""A scene whose narration makes (almost) no sound is still shown this long."""

SentencesSpoken = Callable[[int, int], None]
"""Called with (sentences synthesized so far, sentences in the script) after each sentence."""


@dataclass(frozen=True)
class Narration:
    audio: PcmAudio
    scene_starts: list[float]
    sentences: list[TimedSentence]


BATCH_ROUNDS = 2
"""An engine that speaks several sentences at once is given scenes in batches of at least this
many rounds of its concurrency: requests overlap across short scenes, while progress still
moves scene by scene."""


def narrate(
    script: Script,
    scene_sentences: list[list[str]],
    engine: Synthesizer,
    pcm_path: Path,
    cancel: threading.Event,
    on_sentence: SentencesSpoken,
    *,
    pronounce: Pronouncer | None = None,
    usage: UsageCounter | None = None,
    deadline: float | None = None,
) -> Narration:
    """Speaks scene after scene into `pcm_path`, each followed by its pause, timing every sentence.

    The engine says each sentence as `pronounce` rewrites it (the lexicon) at the scene's rate;
    the timed sentences keep the written text, which is what captions show. `deadline`
    (time.monotonic()) is when the engine's retries must have given up."""
    total = sum(map(len, scene_sentences))
    spoken = 0
    scene_starts: list[float] = []
    timed: list[TimedSentence] = []
    written_samples = 0
    sample_rate: int | None = None
    with pcm_path.open("wb") as pcm:
        batch_sentences = 1 if engine.concurrency == 1 else engine.concurrency * BATCH_ROUNDS
        for batch in _batches(script, scene_sentences, batch_sentences):
            written = [sentence for _, sentences in batch for sentence in sentences]
            said = [pronounce.spoken(sentence) if pronounce else Spoken(sentence) for sentence in written]
            texts = [sentence.text for sentence in said]
            result = engine.synthesize(
                texts, script.primary_language, script.voice, cancel, lambda done: on_sentence(spoken + done, total),  # noqa: B023 - called before synthesize() returns
                rate=script.scene_rate(batch[0][0]), usage=usage, deadline=deadline,
            )  # fmt: skip
            if sample_rate is not None and result.sample_rate != sample_rate:
                raise SynthesisError(f"the voice changed its sample rate from {sample_rate} to {result.sample_rate} Hz midway")
            sample_rate = result.sample_rate
            spoken += len(said)
            engine_words = _by_sentence(result.words, len(said))
            spans = iter(enumerate(result.sentence_spans))
            for scene, sentences in batch:
                scene_spans = [next(spans) for _ in sentences]
                first, last = (round(time * sample_rate) for time in (scene_spans[0][1][0], scene_spans[-1][1][1]))
                scene_start = written_samples / sample_rate
                # From the batch's audio to the video's timeline.
                shift = scene_start - scene_spans[0][1][0]
                for text, (index, (start, end)) in zip(sentences, scene_spans):
                    span = (start + shift, end + shift)
                    timed.append(_timed_sentence(text, len(scene_starts), span, said[index], engine_words[index], shift))
                scene_starts.append(scene_start)
                scene_samples = max(last - first + round(scene.pause_sec * sample_rate), round(MIN_SCENE_SEC * sample_rate))
                pcm.write(result.pcm[first * SAMPLE_WIDTH : last * SAMPLE_WIDTH])
                pcm.write(bytes((scene_samples - (last - first)) * SAMPLE_WIDTH))
                written_samples += scene_samples
    if sample_rate is None:  # a script has at least one scene, and a scene a sentence
        raise SynthesisError("nothing was spoken: the script has no sentence")
    return Narration(PcmAudio(path=pcm_path, sample_rate=sample_rate), scene_starts, timed)


def _by_sentence(words: list[Word], sentences: int) -> list[list[Word]]:
    grouped: list[list[Word]] = [[] for _ in range(sentences)]
    for word in words:
        grouped[word.sentence].append(word)
    return grouped


def _timed_sentence(
    text: str, scene: int, span: tuple[float, float], said: Spoken, engine_words: list[Word], shift: float
) -> TimedSentence:
    """A written sentence and its words at `span` on the video's timeline. The engine's words
    (`shift` seconds before that timeline) are found in the said text, in order, and placed at
    the written word they came from."""
    starts = []
    position = 0
    for word in engine_words:
        found = said.text.find(word.text, position)
        if found >= 0:
            starts.append((word.start + shift, said.written_at(found)))
            position = found + len(word.text)
    return TimedSentence(text, span[0], span[1], scene=scene, words=time_words(text, span[0], span[1], starts))


def _batches(script: Script, scene_sentences: list[list[str]], min_sentences: int) -> Iterator[list[tuple[Scene, list[str]]]]:
    """Consecutive scenes of one rate, as few as make up `min_sentences` sentences (one scene
    each for an engine that speaks one sentence at a time)."""
    batch: list[tuple[Scene, list[str]]] = []
    for scene, sentences in zip(script.scenes, scene_sentences):
        if batch and script.scene_rate(batch[0][0]) != script.scene_rate(scene):
            yield batch
            batch = []
        batch.append((scene, sentences))
        if sum(len(sentences) for _, sentences in batch) >= min_sentences:
            yield batch
            batch = []
    if batch:
        yield batch

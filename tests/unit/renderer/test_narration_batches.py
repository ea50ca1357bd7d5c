"""Scenes are given to an engine that speaks several sentences at once in batches, so its
requests overlap across short scenes; each scene still gets exactly its own audio and pause."""

import threading

import pytest

from libs.contracts.script import Scene, Script
from services.renderer.narration import narrate
from services.renderer.tts.espeak import EspeakEngine

SCENES = [["하나.", "둘.", "셋."], ["넷.", "다섯."], ["여섯.", "일곱."], ["여덟.", "아홉."], ["열."], ["열하나.", "열둘."]]


class BatchingEspeak(EspeakEngine):
    """Real espeak-ng that claims to speak `concurrency` sentences at once, recording each call."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.calls: list[tuple[int, float]] = []

    def synthesize(self, sentences, *args, rate=1.0, **options):
        self.calls.append((len(sentences), rate))
        return super().synthesize(sentences, *args, rate=rate, **options)


def script(rates: list[float] | None = None) -> Script:
    rates = rates or [1.0] * len(SCENES)
    scenes = [Scene(narration=" ".join(sentences), pause_sec=0.5, rate=rate) for sentences, rate in zip(SCENES, rates)]
    return Script(title="batches", scenes=scenes)


def spoken(tmp_path, engine, source: Script):
    progress = []
    narration = narrate(
        source,
        SCENES,
        engine,
        tmp_path / f"{engine.concurrency}.pcm",
        threading.Event(),
        lambda done, total: progress.append((done, total)),
    )
    return narration, progress


def test_scenes_go_in_batches_of_two_rounds_and_keep_their_own_timing(tmp_path):
    one, four = BatchingEspeak(1), BatchingEspeak(4)
    alone, _ = spoken(tmp_path, one, script())
    batched, progress = spoken(tmp_path, four, script())

    assert [count for count, _ in one.calls] == [3, 2, 2, 2, 1, 2]
    assert [count for count, _ in four.calls] == [9, 3], "scenes joined until 8 sentences, the rest after"
    assert progress[-1] == (12, 12) and [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert len(batched.scene_starts) == len(SCENES)
    assert [sentence.text for sentence in batched.sentences] == [text for scene in SCENES for text in scene]
    for start, next_start, scene in zip(batched.scene_starts, [*batched.scene_starts[1:], None], SCENES):
        inside = [sentence for sentence in batched.sentences if sentence.text in scene]
        assert inside[0].start == pytest.approx(start)
        if next_start is not None:  # the scene's pause of 0.5 s comes after its last sentence
            assert inside[-1].end + 0.5 == pytest.approx(next_start, abs=1e-3)
    assert batched.audio.duration_sec == pytest.approx(alone.audio.duration_sec, abs=0.05 * len(SCENES))


def test_a_batch_never_mixes_rates(tmp_path):
    engine = BatchingEspeak(4)
    spoken(tmp_path, engine, script([1.0, 1.0, 1.5, 1.5, 1.5, 1.0]))
    assert engine.calls == [(5, 1.0), (5, 1.5), (2, 1.0)]

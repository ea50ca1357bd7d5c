"""Renders with TTS_ENGINE=coqui through the real stack: the API, a renderer worker that loads a
tiny random-weight VITS by path, the bus, SQLite, and the MP4 and subtitles inspected with PyAV."""

import copy
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("TTS.api", reason="the coqui extra is not installed (scripts/install-coqui.sh)")

from services.renderer.text import split_sentences
from tests.client import approved_script, follow, new_video_id, start_render, wait_terminal
from tests.coqui_model import build_tiny_vits
from tests.media import audio_video_durations, cue_times
from tests.stack import Stack

CACHE_COUNTS = re.compile(r"TTS cache: (\d+) hits, (\d+) misses")


@pytest.fixture(scope="module")
def coqui_stack(tmp_path_factory) -> Iterator[Stack]:
    models = tmp_path_factory.mktemp("models")
    build_tiny_vits(models / "tiny-vits")
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("coqui-stack"),
        workers=1,
        capture_logs=True,
        extra_env={
            "TTS_ENGINE": "coqui",
            "COQUI_MODEL_DIR": str(models / "tiny-vits"),
            "COQUI_MODEL_ROOT": str(models),
            "TTS_FALLBACK": "ja:coqui>espeak",
            "RENDER_RESOLUTION": "640x360",
        },
    )
    with stack.running():
        yield stack


def render(stack: Stack, script: dict, tmp_path: Path, video_id: str | None = None, script_id: str = "script-001") -> dict:
    """Renders `script`; returns the final job, its stored event messages and the downloaded files."""
    video_id = video_id or new_video_id("coqui")
    with stack.client(timeout=30) as http:
        approved_script(http, video_id, script, script_id)
        job = wait_terminal(http, video_id, start_render(http, video_id, script_id)["job_id"], timeout=240)
        events = follow(stack, video_id, f"?job_id={job['job_id']}&last_seq=0")
        files = {}
        if job["status"] == "SUCCEEDED":
            for key in ("video_url", "subtitle_url"):
                files[key] = tmp_path / f"{job['job_id']}-{Path(job['assets'][key]).name}"
                files[key].write_bytes(http.get(job["assets"][key]).content)
    messages = [event.get("message", "") for event in events if event["type"] == "progress"]
    return {"video_id": video_id, "job": job, "messages": messages, "files": files}


def cache_counts(messages: list[str]) -> tuple[int, int]:
    found = [CACHE_COUNTS.search(message) for message in messages]
    hits, misses = next(match for match in found if match).groups()
    return int(hits), int(misses)


def script_of(language: str, *narrations: str, voice: str | None = None) -> dict:
    scenes = [{"narration": text, "slide": {"title": f"Scene {n}"}} for n, text in enumerate(narrations, start=1)]
    return {"title": "coqui", "language": language, "voice": voice, "scenes": scenes}


@pytest.mark.parametrize(
    "script",
    [
        script_of("ko", "안녕하세요. 개인정보 보호 교육입니다.", "두 번째 장면입니다! 짧게 말합니다.", "마지막 장면입니다."),
        script_of("en", "Hello there. This is the privacy course.", "Second scene! It is short.", "The last scene."),
    ],
    ids=["korean", "english"],
)
def test_scenes_render_with_coqui_and_cues_match_the_audio(coqui_stack, tmp_path, script):
    rendered = render(coqui_stack, script, tmp_path)
    job = rendered["job"]
    assert job["status"] == "SUCCEEDED" and job["attempt"] == 1, job
    assert any(message.startswith("Narrated 5 sentences with coqui") for message in rendered["messages"]), rendered["messages"]
    audio, video = audio_video_durations(rendered["files"]["video_url"])
    assert abs(audio - video) <= 0.050 and abs(job["assets"]["duration_sec"] - audio) <= 0.050, (audio, video)
    cues = cue_times(rendered["files"]["subtitle_url"].read_text(encoding="utf-8"))
    assert len(cues) == 5
    assert all(start < end <= next_start for (start, end), (next_start, _) in itertools.pairwise(cues))
    assert cues[-1][1] <= audio + 0.001


def test_rerender_of_an_edited_reference_script_speaks_only_the_changed_scene(coqui_stack, reference_script, tmp_path):
    sentences = [len(split_sentences(scene["narration"])) for scene in reference_script["scenes"]]
    first = render(coqui_stack, reference_script, tmp_path, video_id=new_video_id("reference"))
    assert first["job"]["status"] == "SUCCEEDED", first["job"]
    assert sum(cache_counts(first["messages"])) == sum(sentences)  # a sentence of an earlier test may hit

    edited = copy.deepcopy(reference_script)
    edited["scenes"][4]["narration"] = "다섯 번째 장면을 고쳐 썼습니다. 새 문장만 다시 합성됩니다."
    second = render(coqui_stack, edited, tmp_path, video_id=first["video_id"], script_id="script-002")
    assert second["job"]["status"] == "SUCCEEDED", second["job"]
    hits, misses = cache_counts(second["messages"])
    assert (hits, misses) == (sum(sentences) - sentences[4], 2)
    print(f"\nreference re-render with scene 5 changed: {hits} hits, {misses} misses, hit rate {hits / (hits + misses):.1%}")


def test_characters_the_model_cannot_say_fail_the_job_at_once(coqui_stack, tmp_path):
    rendered = render(coqui_stack, script_of("ko", "안녕하세요.", "漢字는 읽을 수 없습니다."), tmp_path)
    job = rendered["job"]
    assert (job["status"], job["error_code"], job["attempt"]) == ("FAILED", "TTS_FAILED", 1), job
    assert "cannot say 2 characters of this script: '漢字'" in job["error_message"]


def test_a_language_with_a_fallback_is_narrated_by_espeak_and_the_job_says_so(coqui_stack, tmp_path):
    rendered = render(coqui_stack, script_of("ja", "こんにちは。", "さようなら。"), tmp_path)
    assert rendered["job"]["status"] == "SUCCEEDED", rendered["job"]
    summary = next(message for message in rendered["messages"] if message.startswith("Narrated"))
    assert summary.startswith("Narrated 2 sentences with espeak"), summary
    assert "fell back from coqui: the coqui model in" in summary and "cannot say" in summary


def test_a_script_voice_names_a_model_only_under_the_model_root(coqui_stack, tmp_path):
    named = render(coqui_stack, script_of("ko", "모델을 이름으로 고릅니다.", voice="coqui:tiny-vits"), tmp_path)
    assert named["job"]["status"] == "SUCCEEDED", named["job"]
    assert any(message.startswith("Narrated 1 sentences with coqui:tiny-vits") for message in named["messages"])
    escaping = render(coqui_stack, script_of("ko", "밖으로 나갑니다.", voice="coqui:../../etc"), tmp_path)
    job = escaping["job"]
    assert (job["status"], job["error_code"], job["attempt"]) == ("FAILED", "TTS_FAILED", 1), job
    assert "outside COQUI_MODEL_ROOT" in job["error_message"]


def test_the_worker_loaded_the_model_once_for_all_those_jobs(coqui_stack):
    log = coqui_stack.log_path("renderer").read_text(encoding="utf-8", errors="replace")
    assert log.count("loading the coqui model in") == 1, log[-3000:]

"""The reference script through every engine on the real stack (API, bus, a renderer worker,
SQLite, the MP4 read with PyAV): espeak-ng, Azure and Google against the local fake of their
REST APIs, and Supertonic with a stand-in model built here. Each video keeps its voice's own
sample rate, its sound and pictures agree within 50 ms, and the job says which voice spoke;
the mix is at broadcast loudness; a provider that is down fails the job clearly or, with
`voice_fallback`, voices the whole video with the fallback voice."""

import copy
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from tests.audio import decoded_audio, loudness_lufs, true_peak_dbtp
from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.cloud_tts_fake import FakeCloudTts, Fault
from tests.media import audio_video_durations
from tests.stack import Stack
from tests.supertonic_model import build_stand_in_model

GOOGLE_RATE = 48_000
"""What the fake Google answers at: not a rate any other engine speaks, so a resample shows."""


@pytest.fixture(scope="module")
def fake_cloud() -> Iterator[FakeCloudTts]:
    with FakeCloudTts() as fake:
        fake.google_rate = GOOGLE_RATE
        yield fake


@pytest.fixture(scope="module")
def voices_stack(tmp_path_factory, fake_cloud) -> Iterator[Stack]:
    model = build_stand_in_model(tmp_path_factory.mktemp("models") / "supertonic-3")
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("voices-stack"),
        workers=1,
        extra_env={
            "AZURE_SPEECH_KEY": fake_cloud.key, "AZURE_SPEECH_ENDPOINT": fake_cloud.url,
            "GOOGLE_TTS_API_KEY": fake_cloud.key, "GOOGLE_TTS_ENDPOINT": fake_cloud.url,
            "SUPERTONIC_MODEL_DIR": str(model), "RENDER_RESOLUTION": "640x360",
            # A provider that is down must fail a job in seconds, not after minutes of retries.
            "TTS_REQUEST_TIMEOUT_SEC": "2", "TTS_CIRCUIT_FAILURES": "1000",
        },
    )  # fmt: skip
    with stack.running():
        yield stack


def render(stack: Stack, script: dict, tmp_path: Path, lexicon: list[dict] | None = None) -> tuple[dict, Path | None]:
    video_id = new_video_id("voices")
    with stack.client(timeout=30) as http:
        if lexicon is not None:
            assert http.put(f"/api/v2/videos/{video_id}/lexicon", json={"entries": lexicon}).status_code == 200
        approved_script(http, video_id, script)
        job = wait_terminal(http, video_id, start_render(http, video_id, "script-001")["job_id"], timeout=300)
        if job["status"] != "SUCCEEDED":
            return job, None
        video = tmp_path / f"{job['job_id']}.mp4"
        video.write_bytes(http.get(job["assets"]["video_url"]).content)
        return job, video


def with_voice(script: dict, voice: str, **fields) -> dict:
    return {**copy.deepcopy(script), "voice": voice, **fields}


@pytest.mark.parametrize(
    ("voice", "sample_rate"),
    [("espeak", 22_050), ("azure#ko-KR-SunHiNeural", 24_000), ("google#ko-KR-Neural2-A", GOOGLE_RATE),
     ("supertonic#F1", 44_100)],
    ids=["espeak", "azure", "google", "supertonic"],
)  # fmt: skip
def test_the_reference_script_renders_in_each_voice_at_its_own_rate(voices_stack, reference_script, tmp_path, voice, sample_rate):
    job, video = render(voices_stack, with_voice(reference_script, voice), tmp_path)
    assert job["status"] == "SUCCEEDED", job
    assert job["voice_used"] == voice
    with av.open(str(video)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == sample_rate
    audio, picture = audio_video_durations(video)
    assert abs(audio - picture) <= 0.05
    assert audio == pytest.approx(job["assets"]["duration_sec"], abs=0.05)
    # Broadcast loudness whichever engine spoke (SPEC §8.3), measured on the published MP4.
    samples, rate = decoded_audio(video)
    assert loudness_lufs(samples, rate) == pytest.approx(-16, abs=1)
    assert true_peak_dbtp(samples, rate) <= -1


def test_a_cloud_voice_says_the_lexicon_in_escaped_ssml_and_the_captions_keep_the_text(voices_stack, fake_cloud, tmp_path):
    script = {"title": "lexicon", "language": "ko", "voice": "azure#ko-KR-SunHiNeural",
              "scenes": [{"narration": "R&D 팀의 API를 <보안> 교육에서 씁니다."}]}  # fmt: skip
    lexicon = [{"term": "API", "say": "에이피아이"}, {"term": "R&D", "say": "알앤디"}]
    job, _ = render(voices_stack, script, tmp_path, lexicon=lexicon)
    assert job["status"] == "SUCCEEDED", job
    spoken = [request.spoken for request in fake_cloud.synthesis_requests()]
    assert "알앤디 팀의 에이피아이를 <보안> 교육에서 씁니다." in spoken  # the fake parsed it as XML
    assert not fake_cloud.problems
    with voices_stack.client() as http:
        captions = http.get(job["assets"]["subtitle_url"]).text
    assert "R&D 팀의 API를 <보안> 교육에서 씁니다." in captions


def test_a_provider_that_is_down_fails_the_job_naming_the_engine_and_its_answer(voices_stack, fake_cloud, tmp_path):
    fake_cloud.always = Fault(status=503, body=b"service unavailable")
    try:
        job, _ = render(voices_stack, {"title": "down", "language": "ko", "voice": "google#ko-KR-Neural2-A",
                                       "scenes": [{"narration": "구글이 쉬는 날입니다."}]}, tmp_path)  # fmt: skip
    finally:
        fake_cloud.always = None
    assert job["status"] == "FAILED" and job["error_code"] == "TTS_FAILED"
    assert "google" in job["error_message"] and "503" in job["error_message"]
    assert fake_cloud.key not in job["error_message"]
    assert job["voice_used"] is None and job["assets"] is None


def test_with_a_fallback_the_whole_video_is_voiced_by_the_fallback(voices_stack, fake_cloud, reference_script, tmp_path):
    # Down only after the first requests: the first voice would have spoken part of the video.
    answered = 0

    def down_after_three(text: str) -> Fault | None:
        nonlocal answered
        answered += 1
        return None if answered <= 3 else Fault(status=500, body=b"backend error")

    fake_cloud.fault_for = down_after_three
    try:
        # Not the voice of the test above: its sentences are in the TTS cache and would need no request.
        script = with_voice(reference_script, "azure#ko-KR-InJoonNeural", voice_fallback="espeak")
        job, video = render(voices_stack, script, tmp_path)
    finally:
        fake_cloud.fault_for = None
    assert job["status"] == "SUCCEEDED", job
    assert job["voice_used"] == "espeak"
    with av.open(str(video)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == 22_050, "one voice, so espeak's rate throughout"
    audio, picture = audio_video_durations(video)
    assert abs(audio - picture) <= 0.05
    with voices_stack.client() as http:
        published = http.get(f"/api/v2/videos/{job['video_id']}/assets/published").json()
    assert published["voice_used"] == "espeak"

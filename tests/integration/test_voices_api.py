"""The voice catalog and voice previews (SPEC §8.1) through the real API and renderer pool."""

import io
import math
import time
import wave
from array import array

import httpx
import pytest

from libs.tokens import Role
from tests.client import approved_script, new_video_id, start_render, wait_running, wait_terminal
from tests.stack import Stack

CATALOG_FIELDS = {"voice", "engine", "language", "name", "gender", "kind", "where", "sample_rate"}
KOREAN = {"voice": "espeak#ko", "language": "ko", "text": "안녕하세요. 미리 듣기입니다."}


@pytest.fixture
def http(stack):
    with stack.client(timeout=30) as client:
        yield client


def catalog(http: httpx.Client, **params) -> dict:
    """The catalog once the workers have listed their voices (just after they said Ready)."""
    deadline = time.monotonic() + 10
    while True:
        response = http.get("/api/v2/voices", params=params)
        assert response.status_code == 200, response.text
        if response.json()["total"] or time.monotonic() > deadline:
            return response.json()
        time.sleep(0.1)


def preview(http: httpx.Client, **body) -> httpx.Response:
    return http.post("/api/v2/voices/preview", json=body)


def decoded(response: httpx.Response) -> wave.Wave_read:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    return wave.open(io.BytesIO(response.content))


def seconds_of(response: httpx.Response) -> float:
    audio = decoded(response)
    return audio.getnframes() / audio.getframerate()


def rms(audio: wave.Wave_read) -> float:
    samples = array("h", audio.readframes(audio.getnframes()))
    return math.sqrt(sum(sample * sample for sample in samples) / len(samples))


def test_catalog_lists_the_espeak_voices_of_every_worker_once(http):
    listed = catalog(http)
    assert listed["total"] == len(listed["voices"]) > 100
    assert all(set(voice) == CATALOG_FIELDS for voice in listed["voices"])
    specs = [voice["voice"] for voice in listed["voices"]]
    assert len(specs) == len(set(specs)), "two workers offer espeak; each voice is listed once"
    korean = next(voice for voice in listed["voices"] if voice["voice"] == "espeak#ko")
    assert korean == {
        "voice": "espeak#ko",
        "engine": "espeak",
        "language": "ko",
        "name": "Korean",
        "gender": "male",
        "kind": "formant",
        "where": "local",
        "sample_rate": 22050,
    }


@pytest.mark.parametrize(
    ("language", "expected"), [("ko-KR", "espeak#ko"), ("en", "espeak#en-US"), ("EN-us", "espeak#en-GB-x-rp")]
)
def test_catalog_filters_by_the_primary_language_subtag(http, language, expected):
    listed = catalog(http, language=language)
    primary = language.split("-")[0].lower()
    assert listed["total"] == len(listed["voices"]) >= 1
    assert all(voice["language"].split("-")[0].lower() == primary for voice in listed["voices"])
    assert expected in [voice["voice"] for voice in listed["voices"]]


def test_catalog_of_a_language_nobody_speaks_is_empty_and_a_bad_tag_is_422(http):
    assert http.get("/api/v2/voices", params={"language": "zzz"}).json() == {"voices": [], "total": 0}
    response = http.get("/api/v2/voices", params={"language": "not a tag"})
    assert response.status_code == 422 and response.json()["error_code"] == "VALIDATION_ERROR"


def test_preview_is_a_wav_with_sound_at_the_voice_rate(http):
    audio = decoded(preview(http, **KOREAN))
    assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 22050)
    assert audio.getnframes() / audio.getframerate() > 0.5
    assert rms(audio) > 300, "the audio must not be silence"


def test_preview_speaks_the_video_lexicon_when_given_its_id(http):
    video_id = new_video_id("lexicon")
    say = "a rather long explanation that takes far longer to say than the four letters it replaces"
    entries = [{"term": "SLRL", "say": say, "case_sensitive": False}]
    assert http.put(f"/api/v2/videos/{video_id}/lexicon", json={"entries": entries}).status_code == 200
    text = {"voice": "espeak#en-US", "language": "en", "text": "SLRL."}
    plain = seconds_of(preview(http, **text))
    with_lexicon = seconds_of(preview(http, **text, video_id=video_id))
    spelled_out = seconds_of(preview(http, **{**text, "text": f"{say}."}))
    assert with_lexicon > 3 * plain, (plain, with_lexicon)
    assert abs(with_lexicon - spelled_out) < 0.05, "the term is spoken exactly as its `say`"
    other_video = seconds_of(preview(http, **text, video_id=new_video_id("no-lexicon")))
    assert abs(other_video - plain) < 0.05, "a video without a lexicon speaks the text as written"


def long_script(video_id: str) -> dict:
    """60 scenes of sentences no earlier run spoke (the TTS cache keeps those): a render that
    speaks with espeak-ng for seconds, then draws and encodes for longer."""
    scenes = [
        {
            "narration": f"{video_id}의 {index}번 장면은 미리 듣기가 렌더링 뒤에 줄 서지 않는지 확인하려고 길게 씁니다. "
            "두 번째 문장도 있습니다. 그리고 세 번째 문장으로 조금 더 길게 만듭니다.",
            "slide": {"title": f"긴 렌더링 {index}", "bullets": ["하나", "둘", "셋"]},
        }
        for index in range(60)
    ]
    return {"title": "긴 렌더링", "language": "ko", "scenes": scenes}


PREVIEWS_WHILE_BUSY = 5


def test_preview_answers_while_every_worker_renders(stack, http):
    jobs = []
    for _ in range(stack.workers):
        video_id = new_video_id("busy")
        script_id = approved_script(http, video_id, long_script(video_id))
        jobs.append((video_id, start_render(http, video_id, script_id)["job_id"]))
    try:
        # A worker renders one job at a time: with as many jobs running as workers, every one is busy.
        for video_id, job_id in jobs:
            wait_running(http, video_id, job_id)
        latencies = []
        for _ in range(PREVIEWS_WHILE_BUSY):
            started = time.monotonic()
            response = preview(http, **KOREAN)
            latencies.append(time.monotonic() - started)
            assert seconds_of(response) > 0.5
        # Read after the last preview's answer: each render was still going when the previews were done.
        after = [http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json() for video_id, job_id in jobs]
        assert [job["status"] for job in after] == ["RUNNING"] * stack.workers, after
        latencies.sort()
        print(
            f"\npreview latency while {stack.workers} workers render ({PREVIEWS_WHILE_BUSY} previews, renders then at "
            f"{', '.join(job['step'] for job in after)}): median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms"
        )
    finally:
        for video_id, job_id in jobs:
            http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")
        for video_id, job_id in jobs:
            wait_terminal(http, video_id, job_id)


BAD_PREVIEWS = [  # body, status, error code, field named, words of the message
    ({**KOREAN, "text": "가" * 301}, 422, "VALIDATION_ERROR", "text", "300"),
    ({**KOREAN, "text": ""}, 422, "VALIDATION_ERROR", "text", ""),
    ({**KOREAN, "text": "   "}, 422, "VALIDATION_ERROR", "text", "nothing to speak"),
    ({"language": "ko", "text": "안녕"}, 422, "VALIDATION_ERROR", "voice", "missing"),
    ({**KOREAN, "voice": "nope#x"}, 422, "VALIDATION_ERROR", "voice", "unknown TTS engine 'nope'"),
    ({**KOREAN, "language": "not a tag"}, 422, "VALIDATION_ERROR", "language", ""),
    ({**KOREAN, "video_id": "../etc"}, 422, "VALIDATION_ERROR", "video_id", ""),
    ({**KOREAN, "speed": 2}, 422, "VALIDATION_ERROR", None, "speed"),
    # No model folder here (SUPERTONIC_MODEL_DIR), so no renderer offers supertonic.
    ({**KOREAN, "voice": "supertonic#F1"}, 503, "VOICE_UNAVAILABLE", None, "supertonic"),
    # Cloud engines are offered unconfigured, to fail at once naming the setting.
    ({**KOREAN, "voice": "azure#ko-KR-SunHiNeural"}, 502, "TTS_FAILED", None, "AZURE_SPEECH_KEY"),
    ({**KOREAN, "voice": "espeak:some-model#ko"}, 502, "TTS_FAILED", None, "espeak takes no model"),
]


@pytest.mark.parametrize(("body", "status", "code", "field", "says"), BAD_PREVIEWS)
def test_a_bad_preview_is_refused_in_the_error_shape_and_the_service_stays_up(stack, http, body, status, code, field, says):
    response = preview(http, **body)
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error_code", "message", "detail"} and error["error_code"] == code and says in error["message"]
    if field is not None:
        assert field in [problem.get("field") for problem in error["detail"]["errors"]], error
    assert httpx.get(f"{stack.base_url}/healthz").status_code == 200
    assert decoded(preview(http, **KOREAN)).getnframes() > 0


def test_previews_need_the_editor_role_and_the_catalog_the_viewer_role(stack: Stack):
    with stack.client(Role.VIEWER, timeout=30) as viewer:
        assert viewer.get("/api/v2/voices").status_code == 200
        assert preview(viewer, **KOREAN).status_code == 403
    assert httpx.get(f"{stack.base_url}/api/v2/voices").status_code == 401

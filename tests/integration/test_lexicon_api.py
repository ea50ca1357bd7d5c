"""A video's lexicon through the real API (SPEC §8.1): stored and read back by role, bad input
refused with 422 naming the field and nothing stored, the limits taken exactly; a job speaks by
the lexicon as it was when the job was created, whatever the video's becomes before a renderer
takes it. And what a job tells about its voice: `voice_used` on the job, the published assets
and the webhook, and the TTS usage counted once in /metrics.

The dispatch tests play the renderer on the real bus (tests/faults/scripted_peer.py) against an
API with no renderer of its own, so they choose when a job is claimed and what its outcome says."""

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from libs.contracts.bus import Ack, Disconnect, EngineUsage, JobFinished, Outcome, Ready, RenderedAssets
from libs.contracts.codes import ErrorCode
from libs.contracts.script import MAX_LEXICON_ENTRIES, MAX_LEXICON_SAY_CHARS, MAX_LEXICON_TERM_CHARS
from libs.tokens import Role
from tests.client import TERMINAL, approved_script, new_video_id, scrape, start_render, value, wait_for, wait_terminal
from tests.cloud_tts_fake import FakeCloudTts
from tests.faults.fake_renderer import SLOW_JOINER_SEC, bus_sockets, zmq_context
from tests.faults.scripted_peer import COMMANDS, next_render, next_reply
from tests.integration.test_webhooks import SECRET, Receiver
from tests.stack import Stack

API = {"term": "API", "say": "에이피아이", "case_sensitive": False}
URL = {"term": "URL", "say": "유알엘", "case_sensitive": False}
SCRIPT = {"title": "발음", "language": "ko", "scenes": [{"narration": "API를 씁니다.", "slide": {"title": "API"}}]}


def lexicon_path(video_id: str) -> str:
    return f"/api/v2/videos/{video_id}/lexicon"


@pytest.fixture
def http(stack) -> Iterator[httpx.Client]:
    with stack.client(timeout=30) as client:
        yield client


# --- the endpoints ---------------------------------------------------------------------


def test_a_lexicon_is_stored_whole_and_read_back(http):
    video_id = new_video_id("lexicon")
    assert http.get(lexicon_path(video_id)).json() == {"video_id": video_id, "entries": []}

    stored = http.put(lexicon_path(video_id), json={"entries": [API, {"term": "SQL", "say": "시퀄"}]})

    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert body["video_id"] == video_id and body["updated_by"] == "tests" and body["updated_at"].endswith("Z")
    assert body["entries"] == [API, {"term": "SQL", "say": "시퀄", "case_sensitive": False}]
    assert http.get(lexicon_path(video_id)).json() == body
    replaced = http.put(lexicon_path(video_id), json={"entries": [URL]}).json()
    assert replaced["entries"] == [URL], "a PUT replaces the whole lexicon"
    cleared = http.put(lexicon_path(video_id), json={"entries": []}).json()
    assert cleared["entries"] == [] and http.get(lexicon_path(video_id)).json() == cleared


def test_viewers_read_the_lexicon_and_editors_write_it(stack):
    video_id = new_video_id("lexicon-roles")
    with stack.client(Role.VIEWER, timeout=30) as viewer, stack.client(Role.EDITOR, timeout=30) as editor:
        refused = viewer.put(lexicon_path(video_id), json={"entries": [API]})
        assert refused.status_code == 403 and refused.json()["error_code"] == "FORBIDDEN"
        assert editor.put(lexicon_path(video_id), json={"entries": [API]}).status_code == 200
        assert viewer.get(lexicon_path(video_id)).json()["entries"] == [API]
    anonymous = httpx.get(f"{stack.base_url}{lexicon_path(video_id)}", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHORIZED"


def entries(count: int, term_chars: int = 10, say_chars: int = 3) -> list[dict]:
    """`count` distinct entries, each term `term_chars` long and each `say` `say_chars`."""
    return [{"term": f"term{index}".ljust(term_chars, "x"), "say": "말" * say_chars} for index in range(count)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "entries"),
        ({"entries": "API"}, "entries"),
        ({"entries": [API], "extra": True}, "extra"),
        ({"entries": [{"say": "에이피아이"}]}, "entries[0]"),  # the message names `term`
        ({"entries": [{"term": "API"}]}, "entries[0]"),
        ({"entries": [URL, {"term": "", "say": "에이피아이"}]}, "entries[1].term"),
        ({"entries": [{"term": "API", "say": ""}]}, "entries[0].say"),
        ({"entries": [{"term": " \t", "say": "공백"}]}, "entries[0].term"),
        ({"entries": [{"term": "API", "say": "\u200b "}]}, "entries[0].say"),
        ({"entries": [{"term": "A" * (MAX_LEXICON_TERM_CHARS + 1), "say": "에이"}]}, "entries[0].term"),
        ({"entries": [{"term": "API", "say": "에" * (MAX_LEXICON_SAY_CHARS + 1)}]}, "entries[0].say"),
        ({"entries": [{"term": "API", "say": "에이피아이", "case_sensitive": "yes"}]}, "entries[0].case_sensitive"),
        ({"entries": [API, URL, {"term": "api", "say": "아피"}]}, "entries[2].term"),
        ({"entries": entries(MAX_LEXICON_ENTRIES + 1)}, "entries"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(http, body, field):
    video_id = new_video_id("lexicon-bad")
    before = http.put(lexicon_path(video_id), json={"entries": [URL]}).json()

    response = http.put(lexicon_path(video_id), json=body)

    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error_code"] == "VALIDATION_ERROR" and set(error) == {"error_code", "message", "detail"}
    assert error["detail"]["errors"][0]["field"] == field and error["message"].startswith(f"{field}: "), error
    assert http.get(lexicon_path(video_id)).json() == before, "a refused PUT changed the stored lexicon"


def test_a_body_that_is_not_json_is_refused_and_nothing_is_stored(http):
    video_id = new_video_id("lexicon-garbage")
    response = http.put(lexicon_path(video_id), content=b"{entries: [", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error_code"] == "VALIDATION_ERROR", response.text
    assert http.get(lexicon_path(video_id)).json()["entries"] == []


def test_the_limits_themselves_are_taken(http):
    video_id = new_video_id("lexicon-limits")
    largest = entries(MAX_LEXICON_ENTRIES, term_chars=MAX_LEXICON_TERM_CHARS, say_chars=MAX_LEXICON_SAY_CHARS)
    stored = http.put(lexicon_path(video_id), json={"entries": largest})
    assert stored.status_code == 200, stored.text[:500]
    read = http.get(lexicon_path(video_id)).json()["entries"]
    assert len(read) == MAX_LEXICON_ENTRIES and read[0]["term"] == largest[0]["term"] and read[-1]["say"] == largest[-1]["say"]


def test_a_real_render_reports_the_voice_that_spoke_and_its_tts_usage(stack, http):
    """Needs the renderer to report RenderedAssets.voice_used and JobFinished.tts_usage."""
    before = scrape(stack)
    video_id = new_video_id("lexicon-render")
    http.put(lexicon_path(video_id), json={"entries": [API]})
    job = start_render(http, video_id, approved_script(http, video_id, SCRIPT))
    done = wait_terminal(http, video_id, job["job_id"])
    assert done["status"] == "SUCCEEDED", done
    assert done["voice_used"] and done["voice_used"].startswith("espeak"), done
    assert http.get(f"/api/v2/videos/{video_id}/assets/published").json()["voice_used"] == done["voice_used"]
    after = scrape(stack)
    spoken = (
        value(after, "slidereel_tts_characters_total", engine="espeak")
        + value(after, "slidereel_tts_cache_hits_total", engine="espeak")
        - value(before, "slidereel_tts_characters_total", engine="espeak")
        - value(before, "slidereel_tts_cache_hits_total", engine="espeak")
    )
    assert spoken > 0, "the render's TTS usage was not counted"


# --- dispatch, played on the bus --------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.listen()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def bus_stack(tmp_path_factory, receiver) -> Iterator[Stack]:
    """An API with no renderer: the test's scripted peer is the only worker there is."""
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("lexicon-bus"),
        workers=0,
        extra_env={
            "WEBHOOK_URLS": receiver.url,
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_RETRY_BASE_SEC": "0.2",
        },
    )
    with stack.running_api() as running:
        yield running


@contextmanager
def scripted_worker(stack: Stack, name: str, engines: list[str]):
    """A renderer worker the test plays: Ready on entry, Disconnect on the way out."""
    with zmq_context() as context:
        dealer, _ = bus_sockets(context, stack, name)
        time.sleep(SLOW_JOINER_SEC)
        dealer.send(COMMANDS.encode(Ready(worker_id=name, engines=engines, incarnation=name)))
        try:
            yield dealer
        finally:
            dealer.send(COMMANDS.encode(Disconnect()))
            time.sleep(0.2)  # let the Disconnect leave before the socket is dropped


def wait_for_sample(stack: Stack, name: str, at_least: float, **labels: str) -> None:
    deadline = time.monotonic() + 20
    while value(scrape(stack), name, **labels) < at_least:
        assert time.monotonic() < deadline, f"{name}{labels} never reached {at_least}"
        time.sleep(0.05)


def test_a_job_speaks_by_the_lexicon_it_was_created_with_and_says_which_voice_spoke(bus_stack, receiver):
    before = scrape(bus_stack)
    video_id = new_video_id("lexicon-snapshot")
    script = {**SCRIPT, "lexicon": [{"term": "SQL", "say": "시퀄"}]}
    with bus_stack.client(timeout=30) as http:
        http.put(lexicon_path(video_id), json={"entries": [API]})
        job_id = start_render(http, video_id, approved_script(http, video_id, script))["job_id"]
        # Edited while the job waits for a worker: the job must not see it.
        http.put(lexicon_path(video_id), json={"entries": [{"term": "API", "say": "아피"}, URL]})

        with scripted_worker(bus_stack, "peer-snapshot", ["espeak"]) as dealer:
            render = next_render(dealer)
            assert render.job_id == job_id
            assert [(entry.term, entry.say) for entry in render.lexicon] == [("API", "에이피아이"), ("SQL", "시퀄")]
            # The attempt's deadline goes along (RENDER_TIMEOUT_BASE_SEC 60 plus 0.1 s a character
            # by default), so a cloud voice's retries end inside it.
            narration = sum(len(scene["narration"]) for scene in script["scenes"])
            assert 50 < render.deadline_sec <= 60 + 0.1 * narration
            usage = [EngineUsage(engine="espeak", characters=12, requests=2, cache_hits=1)]
            finished = COMMANDS.encode(
                JobFinished(
                    job_id=job_id,
                    attempt=render.attempt,
                    outcome=Outcome.SUCCEEDED,
                    tts_usage=usage,
                    assets=RenderedAssets(duration_sec=1.5, voice_used="espeak#ko"),
                )
            )
            # The outcome, then two resends of it once stored (a worker whose Acks were lost): its
            # usage counts once. Each waits for its Ack: a resend that arrives while the outcome
            # still waits to be stored is not even queued, and gets no verdict of its own.
            for _ in range(3):
                dealer.send(finished)
                next_reply(dealer, Ack)
            wait_for_sample(
                bus_stack,
                "slidereel_outcomes_total",
                value(before, "slidereel_outcomes_total", verdict="duplicate") + 2,
                verdict="duplicate",
            )

        done = wait_terminal(http, video_id, job_id)
        published = http.get(f"/api/v2/videos/{video_id}/assets/published").json()
    assert done["status"] == "SUCCEEDED" and done["voice_used"] == "espeak#ko", done
    assert published["job_id"] == job_id and published["voice_used"] == "espeak#ko", published
    after = scrape(bus_stack)
    for name, expected in (
        ("slidereel_tts_characters_total", 12),
        ("slidereel_tts_requests_total", 2),
        ("slidereel_tts_cache_hits_total", 1),
    ):
        assert value(after, name, engine="espeak") - value(before, name, engine="espeak") == expected, name
    deadline = time.monotonic() + 30
    while not (events := [json.loads(d.body) for d in receiver.deliveries if job_id in d.body.decode()]):
        assert time.monotonic() < deadline, "no webhook for the job"
        time.sleep(0.05)
    assert events[0]["type"] == "render_job.succeeded" and events[0]["data"]["voice_used"] == "espeak#ko"


def test_a_failed_job_counts_its_tts_errors_and_shows_no_credential(bus_stack):
    before = scrape(bus_stack)
    video_id = new_video_id("lexicon-failed")
    with bus_stack.client(timeout=30) as http:
        script = {**SCRIPT, "voice": "azure#ko-KR-SunHiNeural"}
        job_id = start_render(http, video_id, approved_script(http, video_id, script))["job_id"]
        with scripted_worker(bus_stack, "peer-failed", ["espeak", "azure"]) as dealer:
            render = next_render(dealer)
            dealer.send(
                COMMANDS.encode(
                    JobFinished(
                        job_id=job_id,
                        attempt=render.attempt,
                        outcome=Outcome.FAILED,
                        error_code=ErrorCode.TTS_FAILED,
                        error_message="azure answered 401 to https://tts.test/cognitiveservices/v1?token=s3cr3t-key",
                        tts_usage=[EngineUsage(engine="azure", characters=0, requests=1, errors={"auth": 1})],
                    )
                )
            )
            done = wait_terminal(http, video_id, job_id)
    assert done["status"] == "FAILED" and done["error_code"] == "TTS_FAILED" and done["voice_used"] is None, done
    assert "s3cr3t-key" not in json.dumps(done)
    after = scrape(bus_stack)
    assert (
        value(after, "slidereel_tts_errors_total", engine="azure", kind="auth")
        - value(before, "slidereel_tts_errors_total", engine="azure", kind="auth")
        == 1
    )
    assert (
        value(after, "slidereel_tts_requests_total", engine="azure")
        - value(before, "slidereel_tts_requests_total", engine="azure")
        == 1
    )


def test_a_provider_refusing_the_key_fails_the_job_and_nothing_the_api_shows_has_the_key(tmp_path, receiver):
    """The fake provider answers 401 quoting the key it was given (a careless provider): the
    job fails TTS_FAILED, and neither the job, its list, the webhook, /metrics nor /readyz
    repeats the key."""
    key = "wrong-key-" + secrets.token_hex(8)
    with FakeCloudTts() as provider:
        stack = Stack(
            data_dir=tmp_path,
            workers=1,
            extra_env={
                "AZURE_SPEECH_KEY": key,
                "AZURE_SPEECH_ENDPOINT": provider.url,
                "WEBHOOK_URLS": receiver.url,
                "WEBHOOK_SECRET": SECRET,
                "WEBHOOK_RETRY_BASE_SEC": "0.2",
            },
        )
        with stack.running(), stack.client(timeout=30) as http:
            video_id = new_video_id("lexicon-401")
            script = {**SCRIPT, "voice": "azure#ko-KR-SunHiNeural"}
            job_id = start_render(http, video_id, approved_script(http, video_id, script))["job_id"]
            done = wait_for(
                http,
                video_id,
                job_id,
                lambda job: job["status"] in TERMINAL or job["message"].startswith("Waiting for a renderer"),
                what="the end, or a wait for azure",
            )
            assert done["status"] == "FAILED" and done["error_code"] == "TTS_FAILED", done
            assert any(request.status == 401 for request in provider.requests), "the provider never refused the key"
            deadline = time.monotonic() + 30
            while not (hooks := [d.body.decode() for d in receiver.deliveries if job_id in d.body.decode()]):
                assert time.monotonic() < deadline, "no webhook for the job"
                time.sleep(0.05)
            shown = {
                "job": http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").text,
                "jobs": http.get(f"/api/v2/videos/{video_id}/render-jobs").text,
                "webhook": hooks[0],
                "metrics": httpx.get(f"{stack.base_url}/metrics", timeout=10).text,
                "readyz": httpx.get(f"{stack.base_url}/readyz", timeout=10).text,
            }
    assert [name for name, text in shown.items() if key in text] == [], "the key is shown"

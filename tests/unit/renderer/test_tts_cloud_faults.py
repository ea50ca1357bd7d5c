"""How the cloud engines meet provider faults (issue 24's fault table), their concurrency, rate
cap, circuit breaker and cancel, against the local fake; then the pieces on their own.

Times come from the fake's record of when each request arrived; waits are asserted as lower
bounds (the code cannot be faster than it is told to wait) and as generous upper bounds."""

import base64
import io
import json
import logging
import threading
import time
import wave
from datetime import UTC, datetime

import pytest

from services.renderer.tts import get_engine
from services.renderer.tts.base import (
    ProviderError,
    SynthesisCanceled,
    SynthesisError,
    UsageCounter,
)
from services.renderer.tts.cloud.circuit import Admission, CircuitBreaker
from services.renderer.tts.cloud.retry import (
    BACKOFF_FIRST_SEC,
    BACKOFF_MAX_SEC,
    backoff_seconds,
    retry_after_seconds,
)
from services.renderer.tts.cloud.throttle import RequestRate
from services.renderer.tts.cloud.wav import decode_wav
from tests.cloud_tts_fake import FakeCloudTts, Fault, speech_pcm, wav_bytes

ENGINES = ["azure", "google"]
KEY_SETTING = {"azure": "AZURE_SPEECH_KEY", "google": "GOOGLE_TTS_API_KEY"}
GENEROUS_SEC = 5.0
"""An upper bound on work that takes a fraction of it, loose enough for a loaded machine."""


@pytest.fixture
def fake():
    with FakeCloudTts() as server:
        yield server


def speak(fake, name, sentences=("Hello.",), *, cancel=None, usage=None, deadline=None, on_sentence=None, **settings):
    engine = get_engine(name, fake.settings(**settings))
    return engine.synthesize(list(sentences), "en", None, cancel or threading.Event(), on_sentence,
                             usage=usage, deadline=deadline)  # fmt: skip


def answered_audio(name: str, audio: bytes) -> Fault:
    """A 200 answer carrying `audio` where the provider's audio goes."""
    if name == "azure":
        return Fault(body=audio)
    return Fault(body=json.dumps({"audioContent": base64.b64encode(audio).decode()}).encode())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- the fault table ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ENGINES)
def test_429_is_retried_no_sooner_than_retry_after_asks(fake, name):
    fake.faults.append(Fault(status=429, headers={"Retry-After": "1"}))
    usage = UsageCounter()
    result = speak(fake, name, usage=usage)
    first, second = fake.synthesis_requests()
    assert 1.0 <= second.at - first.at < 1.0 + GENEROUS_SEC
    assert result.pcm == speech_pcm("Hello.", result.sample_rate)
    counted = usage.as_contract(name)
    assert (counted.requests, counted.characters, counted.errors) == (2, 12, {"rate_limited": 1})


@pytest.mark.parametrize("name", ENGINES)
def test_a_retry_after_beyond_the_deadline_fails_at_once_for_a_later_attempt(fake, name):
    fake.faults.append(Fault(status=429, headers={"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(ProviderError) as failed:
        speak(fake, name)
    assert (failed.value.kind, failed.value.retryable) == ("rate_limited", True)
    assert time.monotonic() - started < GENEROUS_SEC
    assert len(fake.synthesis_requests()) == 1


@pytest.mark.parametrize("name", ENGINES)
def test_a_server_error_then_success_is_retried_after_a_backoff(fake, name):
    fake.faults.append(Fault(status=500))
    usage = UsageCounter()
    speak(fake, name, usage=usage)
    first, second = fake.synthesis_requests()
    assert second.at - first.at >= BACKOFF_FIRST_SEC / 2
    assert usage.as_contract(name).errors == {"server_error": 1}


@pytest.mark.parametrize("name", ENGINES)
def test_a_dropped_connection_is_retried(fake, name):
    fake.faults.append(Fault(drop_connection=True))
    usage = UsageCounter()
    speak(fake, name, usage=usage)
    assert len(fake.synthesis_requests()) == 2
    assert usage.as_contract(name).errors == {"connection": 1}


@pytest.mark.parametrize("name", ENGINES)
def test_an_answer_slower_than_the_request_timeout_is_abandoned_and_retried(fake, name):
    fake.faults.append(Fault(hold_sec=60))
    usage = UsageCounter()
    started = time.monotonic()
    speak(fake, name, usage=usage, deadline=time.monotonic() + 30, tts_request_timeout_sec=0.3)
    assert time.monotonic() - started < GENEROUS_SEC
    assert len(fake.synthesis_requests()) == 2
    assert usage.as_contract(name).errors == {"timeout": 1}


@pytest.mark.parametrize("name", ENGINES)
def test_a_provider_that_never_answers_fails_within_the_attempts_budget(fake, name):
    fake.always = Fault(hold_sec=60)
    started = time.monotonic()
    with pytest.raises(ProviderError) as failed:
        speak(fake, name, tts_request_timeout_sec=0.3)  # the default budget: 0.6 s for one sentence
    assert (failed.value.kind, failed.value.retryable) == ("timeout", True)
    assert time.monotonic() - started < GENEROUS_SEC


@pytest.mark.parametrize("name", ENGINES)
def test_server_errors_are_retried_only_until_the_deadline(fake, name):
    fake.always = Fault(status=503)
    started = time.monotonic()
    with pytest.raises(ProviderError) as failed:
        speak(fake, name, deadline=time.monotonic() + 1.5)
    assert (failed.value.kind, failed.value.retryable) == ("server_error", True)
    assert "gave up after" in str(failed.value)
    assert len(fake.synthesis_requests()) >= 2 and time.monotonic() - started < 1.5 + GENEROUS_SEC


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("refusal", ["wrong key", "403"])
def test_a_refused_key_fails_at_once_naming_the_setting_and_never_the_key(fake, name, refusal, caplog):
    wrong_key = "wrong-" + fake.key
    overrides = {}
    if refusal == "wrong key":
        overrides = {"azure_speech_key": wrong_key, "google_tts_api_key": wrong_key}
    else:
        fake.faults.append(Fault(status=403, body=f'{{"error": "forbidden for {fake.key}"}}'.encode()))
    usage = UsageCounter()
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as refused:
        speak(fake, name, usage=usage, **overrides)
    message = str(refused.value)
    assert (refused.value.kind, refused.value.retryable) == ("auth", False)
    assert KEY_SETTING[name] in message
    assert wrong_key not in message + caplog.text and fake.key not in message + caplog.text
    assert len(fake.synthesis_requests()) == 1
    assert usage.as_contract(name).errors == {"auth": 1}


@pytest.mark.parametrize("name", ENGINES)
def test_a_missing_key_fails_before_any_request(fake, name):
    with pytest.raises(SynthesisError) as refused:
        speak(fake, name, azure_speech_key=None, google_tts_api_key=None)
    assert not refused.value.retryable and KEY_SETTING[name] in str(refused.value)
    assert fake.requests == []


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize(
    "audio", [b"", b"not audio at all", b"RIFF\x24\x00\x00\x00WAVEfmt ", wav_bytes(b"\0" * 400, 24_000)[:30]]
)
def test_audio_that_does_not_decode_is_a_provider_fault(fake, name, audio):
    fake.faults.append(answered_audio(name, audio))
    usage = UsageCounter()
    with pytest.raises(ProviderError) as failed:
        speak(fake, name, usage=usage)
    assert (failed.value.kind, failed.value.retryable) == ("bad_audio", True)
    assert usage.as_contract(name).errors == {"bad_audio": 1}


@pytest.mark.parametrize("name", ENGINES)
def test_a_provider_down_for_every_job_opens_the_circuit_and_later_jobs_fail_at_once(fake, name):
    fake.always = Fault(status=503)
    down = {"tts_circuit_failures": 2, "tts_circuit_open_sec": 60, "tts_request_timeout_sec": 0.2}
    for _job in range(2):
        with pytest.raises(ProviderError) as failed:
            speak(fake, name, **down)
        assert failed.value.kind in ("server_error", "timeout"), "a 503 slower than 0.2 s under load is a timeout"
    reached_server = len(fake.synthesis_requests())
    usage = UsageCounter()
    started = time.monotonic()
    with pytest.raises(ProviderError) as failed:
        speak(fake, name, ["One.", "Two.", "Three."], usage=usage, **down)
    assert (failed.value.kind, failed.value.retryable) == ("circuit_open", True)
    assert "TTS_CIRCUIT_OPEN_SEC" in str(failed.value) and "HTTP 503" in str(failed.value), "it says why"
    assert time.monotonic() - started < GENEROUS_SEC, "not the retries' budget"
    assert len(fake.synthesis_requests()) == reached_server, "no request reached the provider"
    assert usage.as_contract(name).requests == 0 and usage.as_contract(name).errors["circuit_open"] >= 1


@pytest.mark.parametrize("name", ENGINES)
def test_an_open_circuit_lets_a_trial_request_through_once_its_time_is_up(fake, name):
    settings = fake.settings(tts_circuit_failures=1, tts_circuit_open_sec=30, tts_request_timeout_sec=0.2)
    engine = get_engine(name, settings)
    engine.transport.circuit.clock = clock = Clock()
    fake.always = Fault(status=503)
    with pytest.raises(ProviderError):
        engine.synthesize(["One."], "en", None, threading.Event())
    with pytest.raises(ProviderError) as refused:
        engine.synthesize(["One."], "en", None, threading.Event())
    assert refused.value.kind == "circuit_open"
    fake.always = None
    clock.now += 30
    before = len(fake.synthesis_requests())
    engine.synthesize(["One.", "Two.", "Three."], "en", None, threading.Event())
    assert len(fake.synthesis_requests()) == before + 3, "the trial succeeded; the sentences that waited for it went on"


# --- throughput and cancel ----------------------------------------------------------------


@pytest.mark.parametrize("name", ENGINES)
def test_sentences_are_spoken_four_at_a_time_and_returned_in_sentence_order(fake, name):
    sentences = [f"Sentence number {word}." for word in ("one", "two", "three", "four", "five", "six", "seven", "eight")]
    fake.gather = 4  # answers wait until four requests were in flight at once
    fake.fault_for = lambda text: Fault(hold_sec=0.3) if text == sentences[0] else None  # the first finishes last
    done = []
    result = speak(fake, name, sentences, on_sentence=done.append)
    assert fake.max_in_flight == 4
    assert result.pcm == b"".join(speech_pcm(sentence, result.sample_rate) for sentence in sentences)
    lengths = [len(speech_pcm(sentence, result.sample_rate)) // 2 / result.sample_rate for sentence in sentences]
    assert [end - start for start, end in result.sentence_spans] == pytest.approx(lengths)
    assert done == list(range(1, 9))


def test_one_at_a_time_when_concurrency_is_one(fake):
    speak(fake, "azure", ["One.", "Two.", "Three."], tts_concurrency=1)
    assert fake.max_in_flight == 1


def test_the_requests_per_second_cap_spaces_out_the_requests(fake):
    speak(fake, "azure", [f"Sentence {number}." for number in range(10)], tts_requests_per_second=4)
    arrivals = sorted(request.at for request in fake.synthesis_requests())
    # A burst of four, then one every quarter second: the tenth starts 1.5 s after the first
    # (less the first request's own way to the server, which the bound leaves room for).
    assert arrivals[-1] - arrivals[0] >= 1.0


@pytest.mark.parametrize("name", ENGINES)
def test_cancel_stops_synthesis_without_waiting_for_requests_in_flight(fake, name):
    fake.always = Fault(hold_sec=60)
    cancel = threading.Event()
    canceled_at = []

    def cancel_once_a_request_arrived():
        fake.arrived.wait(GENEROUS_SEC)
        canceled_at.append(time.monotonic())
        cancel.set()

    threading.Thread(target=cancel_once_a_request_arrived, daemon=True).start()
    with pytest.raises(SynthesisCanceled):
        speak(fake, name, ["One.", "Two.", "Three.", "Four.", "Five.", "Six."], cancel=cancel, tts_concurrency=2)
    assert time.monotonic() - canceled_at[0] < GENEROUS_SEC, "not the 60 s the requests in flight are held"
    time.sleep(0.2)
    assert len(fake.synthesis_requests()) <= 2, "no request starts after the cancel"


@pytest.mark.parametrize("name", ENGINES)
def test_one_failed_sentence_fails_the_synthesis_without_waiting_for_the_others(fake, name):
    faults = {"Slow.": Fault(hold_sec=60), "Refused.": Fault(status=400, body=b'{"error": "unsupported"}')}
    fake.fault_for = faults.get
    started = time.monotonic()
    with pytest.raises(ProviderError) as failed:
        speak(fake, name, ["Slow.", "Refused."], tts_concurrency=2)
    assert (failed.value.kind, failed.value.retryable) == ("bad_request", False)
    assert "unsupported" in str(failed.value)
    assert time.monotonic() - started < GENEROUS_SEC


def test_usage_counts_characters_and_requests_retries_included(fake):
    sentences = ["One.", "Sentence two.", "The third one."]
    fake.faults.append(Fault(status=502))
    usage = UsageCounter()
    speak(fake, "azure", sentences, usage=usage)
    (failed,) = [request for request in fake.synthesis_requests() if request.status == 502]
    counted = usage.as_contract("azure")
    assert counted.requests == 4
    assert counted.characters == sum(map(len, sentences)) + len(failed.spoken)
    assert counted.errors == {"server_error": 1}


# --- the pieces ----------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("Mon, 07 Dec 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Mon, 07 Dec 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("-4") == 0
    for unreadable in (None, "", "soon"):
        assert retry_after_seconds(unreadable) is None


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling():
    for retry in range(10):
        ceiling = min(BACKOFF_MAX_SEC, BACKOFF_FIRST_SEC * 2**retry)
        delays = {backoff_seconds(retry) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


def test_circuit_opens_after_consecutive_failures_and_a_trial_closes_it():
    clock = Clock()
    circuit = CircuitBreaker(3, 30, clock)
    for _ in range(2):
        circuit.record_failure(Admission.CLOSED, "HTTP 503")
    circuit.record_success(Admission.CLOSED)  # a success in between resets the count
    for _ in range(2):
        circuit.record_failure(Admission.CLOSED, "HTTP 503")
    assert circuit.admit() is Admission.CLOSED
    circuit.record_failure(Admission.CLOSED, "HTTP 503")
    assert circuit.admit() is Admission.REFUSED
    assert circuit.reopens_in() == 30
    clock.now += 30
    assert circuit.admit() is Admission.TRIAL
    assert circuit.admit() is Admission.AWAIT_TRIAL, "one trial at a time; the others wait for it"
    circuit.record_failure(Admission.CLOSED, "HTTP 503")  # a request admitted before it opened, ending late
    assert circuit.admit() is Admission.AWAIT_TRIAL, "only the trial's own outcome ends the trial"
    circuit.record_success(Admission.TRIAL)
    assert circuit.admit() is Admission.CLOSED


def test_a_failed_trial_opens_the_circuit_again_and_a_released_one_lets_the_next_try():
    clock = Clock()
    circuit = CircuitBreaker(1, 10, clock)
    circuit.record_failure(Admission.CLOSED, "HTTP 503")
    clock.now += 10
    assert circuit.admit() is Admission.TRIAL
    circuit.record_failure(Admission.TRIAL, "HTTP 503")
    assert circuit.admit() is Admission.REFUSED and circuit.reopens_in() == 10
    clock.now += 10
    assert circuit.admit() is Admission.TRIAL
    circuit.release_trial()
    assert circuit.admit() is Admission.TRIAL


def test_request_rate_allows_a_one_second_burst_then_spaces_requests():
    clock = Clock()
    rate = RequestRate(4, clock)
    assert [rate.reserve() for _ in range(6)] == [0, 0, 0, 0, 0.25, 0.5]
    clock.now += 1.0
    assert [rate.reserve() for _ in range(3)] == pytest.approx([0, 0, 0.25]), "the second's four tokens repaid the two borrowed"
    assert RequestRate(0, clock).reserve() == 0


def test_decode_wav_keeps_the_rate_and_refuses_what_is_not_16_bit_mono():
    assert decode_wav(wav_bytes(b"\1\0" * 10, 44_100), "azure") == (b"\1\0" * 10, 44_100)
    for channels, width in ((2, 2), (1, 1)):
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(channels)
            writer.setsampwidth(width)
            writer.setframerate(24_000)
            writer.writeframes(b"\0" * 40)
        with pytest.raises(ProviderError) as refused:
            decode_wav(buffer.getvalue(), "azure")
        assert refused.value.kind == "bad_audio"

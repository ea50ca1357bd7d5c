"""The worker registry's voice bookkeeping: the catalog is what the connected workers offer now,
and a preview goes to a worker offering its engine, busy or not."""

from libs.contracts.bus import RunningJob, VoiceInfo
from services.api.dispatch.registry import WorkerRegistry

LIVENESS = 3.0


def voice(spec: str, language: str = "ko") -> VoiceInfo:
    engine = spec.partition("#")[0]
    return VoiceInfo(voice=spec, engine=engine, language=language, name=spec, sample_rate=22050)


KO, EN, CLOUD = voice("espeak#ko"), voice("espeak#en-US", "en-US"), voice("azure#ko-KR-SunHiNeural", "ko-KR")


def test_catalog_lists_each_voice_of_the_connected_workers_once_in_spec_order():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0, engines=frozenset({"espeak"}), voices=(KO, EN))
    registry.ready(b"b", "b", None, now=0.0, engines=frozenset({"espeak", "azure"}), voices=(KO, CLOUD))
    assert registry.voice_catalog() == [CLOUD, EN, KO]


def test_a_worker_that_leaves_takes_the_voices_only_it_offered():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0, voices=(KO,))
    registry.ready(b"b", "b", None, now=1.0, voices=(KO, CLOUD))
    registry.expire(now=2 * LIVENESS)  # a's first deadline; b's is a second later
    assert registry.voice_catalog() == [CLOUD, KO]
    registry.remove(b"b")
    assert registry.voice_catalog() == []


def test_a_ready_without_voices_keeps_those_the_same_process_listed():
    """A process lists its voices once, after its first Ready: a Ready of it without them is older."""
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0, incarnation="process-1", voices=(KO,))
    registry.ready(b"a", "a", None, now=1.0, incarnation="process-1")
    assert registry.voice_catalog() == [KO]
    registry.ready(b"a", "a", None, now=2.0, incarnation="process-2")  # restarted: it has not listed them yet
    assert registry.voice_catalog() == []


def test_a_worker_adopted_from_a_heartbeat_has_no_voices_until_its_ready():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0, engines=frozenset({"espeak"}), incarnation="process-1")
    assert registry.voice_catalog() == []
    registry.assign(b"a", RunningJob(job_id="j1", attempt=1))
    # Its Ready sent before the Render arrived changes nothing but its voices.
    assert registry.predates_last_render(b"a", "process-1", renders_received=0)
    registry.offer_voices(b"a", (KO,))
    registry.offer_voices(b"a", ())
    assert registry.voice_catalog() == [KO]
    registry.offer_voices(b"stranger", (EN,))
    assert registry.voice_catalog() == [KO]


def test_a_preview_goes_to_an_idle_worker_offering_its_engine_else_to_a_busy_one():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"busy", "busy", RunningJob(job_id="j1", attempt=1), now=0.0, engines=frozenset({"espeak"}))
    registry.ready(b"idle", "idle", None, now=0.0, engines=frozenset({"espeak"}))
    registry.ready(b"cloud", "cloud", RunningJob(job_id="j2", attempt=1), now=0.0, engines=frozenset({"espeak", "azure"}))
    assert [registry.preview_worker("espeak").worker_id for _ in range(2)] == ["idle", "idle"]
    assert registry.preview_worker("google") is None
    registry.remove(b"idle")
    # Busy ones take turns, each beside its render: the one asked the fewest previews first.
    assert [registry.preview_worker("espeak").worker_id for _ in range(4)] == ["busy", "cloud", "busy", "cloud"]
    assert registry.preview_worker("azure").worker_id == "cloud"


def test_a_preview_of_any_engine_goes_to_any_worker_and_none_without_workers():
    registry = WorkerRegistry(LIVENESS)
    assert registry.preview_worker(None) is None
    registry.ready(b"a", "a", RunningJob(job_id="j1", attempt=1), now=0.0, engines=frozenset({"coqui"}))
    assert registry.preview_worker(None).worker_id == "a"

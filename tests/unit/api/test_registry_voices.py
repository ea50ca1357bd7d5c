"""The worker registry's voice bookkeeping: the catalog is what the connected workers offer now,
and a preview goes to a worker offering its engine, busy or not."""

from libs.contracts.bus import RunningJob, VoiceInfo
from services.api.dispatch.registry import WorkerRegistry
from tests.unit.api.test_worker_registry import LIVENESS, worker


def voice(spec: str, language: str = "ko") -> VoiceInfo:
    engine = spec.partition("#")[0]
    return VoiceInfo(voice=spec, engine=engine, language=language, name=spec, sample_rate=22050)


KO, EN, CLOUD = voice("espeak#ko"), voice("espeak#en-US", "en-US"), voice("azure#ko-KR-SunHiNeural", "ko-KR")


def test_catalog_lists_each_voice_of_the_connected_workers_once_in_spec_order():
    registry = WorkerRegistry(LIVENESS)
    registry.register(worker("a", now=0.0, engines=frozenset({"espeak"}), voices=(KO, EN)))
    registry.register(worker("b", now=0.0, engines=frozenset({"espeak", "azure"}), voices=(KO, CLOUD)))
    assert registry.voice_catalog() == [CLOUD, EN, KO]


def test_a_worker_that_leaves_takes_the_voices_only_it_offered():
    registry = WorkerRegistry(LIVENESS)
    registry.register(worker("a", now=0.0, voices=(KO,)))
    registry.register(worker("b", now=1.0, voices=(KO, CLOUD)))
    registry.expire(now=LIVENESS)  # a's deadline; b's is a second later
    assert registry.voice_catalog() == [CLOUD, KO]
    registry.remove("b")
    assert registry.voice_catalog() == []


def test_a_preview_goes_to_an_idle_worker_offering_its_engine_else_to_a_busy_one():
    registry = WorkerRegistry(LIVENESS)
    registry.register(worker("busy", now=0.0, engines=frozenset({"espeak"}), job=RunningJob(job_id="j1", attempt=1)))
    registry.register(worker("idle", now=0.0, engines=frozenset({"espeak"})))
    registry.register(worker("cloud", now=0.0, engines=frozenset({"espeak", "azure"}), job=RunningJob(job_id="j2", attempt=1)))
    assert [registry.preview_worker("espeak").worker_id for _ in range(2)] == ["idle", "idle"]
    assert registry.preview_worker("google") is None
    registry.remove("idle")
    # Busy ones take turns, each beside its render: the one asked the fewest previews first.
    assert [registry.preview_worker("espeak").worker_id for _ in range(4)] == ["busy", "cloud", "busy", "cloud"]
    assert registry.preview_worker("azure").worker_id == "cloud"


def test_a_preview_of_any_engine_goes_to_any_worker_and_none_without_workers():
    registry = WorkerRegistry(LIVENESS)
    assert registry.preview_worker(None) is None
    registry.register(worker("a", now=0.0, engines=frozenset({"coqui"}), job=RunningJob(job_id="j1", attempt=1)))
    assert registry.preview_worker(None).worker_id == "a"

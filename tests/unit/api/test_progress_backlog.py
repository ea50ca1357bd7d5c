"""The job-state service stores every progress event while it keeps up with the bus; a backlog longer than
one batch (it fell behind) is merged latest-wins (DESIGN §3) so that catching up costs bounded
work, and still ends the bar where it would have and keeps every step change."""

from libs.contracts.bus import Progress
from libs.contracts.codes import Step
from services.api.dispatch.job_state import PROGRESS_BATCH_MAX, progress_to_store


def progress(job_id: str, seq: int, step: Step, value: int, attempt: int = 1) -> Progress:
    return Progress(job_id=job_id, video_id="v", attempt=attempt, seq=seq, step=step, progress=value, ts=0.0)


def test_a_backlog_that_fits_one_batch_is_stored_whole():
    backlog = [progress("a", seq, Step.COMPOSE_VIDEO, seq) for seq in range(1, PROGRESS_BATCH_MAX + 1)]
    assert progress_to_store(backlog) == backlog


def test_a_longer_backlog_keeps_the_newest_event_of_each_job_attempt_and_step():
    backlog = [
        progress("a", 1, Step.GENERATE_TTS, 5),
        progress("b", 1, Step.GENERATE_TTS, 3),
        progress("a", 3, Step.RENDER_SLIDES, 12),
        progress("a", 2, Step.GENERATE_TTS, 9),
        progress("b", 1, Step.GENERATE_TTS, 4, attempt=2),
    ] + [progress("a", seq, Step.RENDER_SLIDES, 20) for seq in range(4, PROGRESS_BATCH_MAX + 4)]
    kept = progress_to_store(backlog)
    assert sorted((p.job_id, p.attempt, p.seq, p.progress) for p in kept) == [
        ("a", 1, 2, 9),
        ("a", 1, PROGRESS_BATCH_MAX + 3, 20),
        ("b", 1, 1, 3),
        ("b", 2, 1, 4),
    ]

"""The job state machine (DESIGN §4): every legal status change, in one table. The store's one
writing function checks each change against it before the conditional UPDATE runs, so no code
path can move a job where the diagram does not go."""

from libs.contracts.codes import JobStatus

PENDING, RUNNING = JobStatus.PENDING, JobStatus.RUNNING
SUCCEEDED, FAILED, CANCELED = JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED

TRANSITIONS: dict[tuple[JobStatus, JobStatus], str] = {
    (PENDING, RUNNING): "a worker claims it (its next attempt starts)",
    (PENDING, PENDING): "its queue message changes (e.g. no connected worker offers its engine)",
    (PENDING, CANCELED): "canceled before any worker took it",
    (RUNNING, RUNNING): "progress of the running attempt",
    (RUNNING, PENDING): "the attempt failed and will be retried, or its Render never reached the worker",
    (RUNNING, SUCCEEDED): "the attempt's outcome: rendered and published",
    (RUNNING, FAILED): "the attempt failed for good (not retryable, or attempts used up)",
    (RUNNING, CANCELED): "canceled while rendering, or the worker stopped it",
}


class IllegalTransition(RuntimeError):
    """A bug: code asked for a status change the state machine does not have."""


def check_transition(before: JobStatus, after: JobStatus) -> None:
    if (before, after) not in TRANSITIONS:
        raise IllegalTransition(f"a job cannot go from {before.value} to {after.value}")

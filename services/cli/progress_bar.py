"""A live bar of one render (percent, current step, elapsed time) drawn by rich.progress."""

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from services.cli.api import Api
from services.cli.follow import job_events


def follow_with_bar(api: Api, video_id: str, job_id: str, console: Console, *, from_start: bool = False) -> dict:
    """Draws the job's progress until it ends (from its first event with `from_start`, see
    `job_events`); returns the terminal event.

    Each new status or step is also printed as a line above the bar, so a log or a pipe (where
    rich draws no live bar) still shows how the render went.
    """
    columns = (
        TextColumn("{task.fields[status]:<9}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=not console.is_terminal) as bar:
        task = bar.add_task(job_id, total=100, status="PENDING", step="waiting for a renderer")
        shown = None

        def reconnecting(reason: str) -> None:
            bar.console.print(f"  reconnecting to the progress stream: {reason}")

        for event in job_events(api, video_id, job_id, from_start=from_start, on_reconnect=reconnecting):
            step = event["step"] or ""
            bar.update(task, completed=event["progress"], status=event["status"], step=step)
            if (event["status"], step) != shown:
                shown = (event["status"], step)
                bar.console.print(f"  [{event['progress']:3d}%] {event['status']:<9} {step:<19} {event['message']}")
    return event

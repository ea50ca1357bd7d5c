"""The rows every benchmark section reports, their targets, and the RESULTS.md table."""

import argparse
import operator
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

_COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Target:
    comparison: str
    """">=" or "<=": how the measured value must compare with `bound`."""
    bound: float

    def met_by(self, value: float) -> bool:
        return _COMPARE[self.comparison](value, self.bound)

    def __str__(self) -> str:
        return f"{self.comparison} {self.bound:g}"


@dataclass(frozen=True)
class Row:
    section: str
    metric: str
    value: float | str
    unit: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        if not isinstance(self.value, float | int):
            return "MISS"
        return "PASS" if self.target.met_by(self.value) else "MISS"

    def cells(self) -> list[str]:
        value = f"{self.value:,.2f}" if isinstance(self.value, float) else str(self.value)
        target = f"{self.target} {self.unit}".strip() if self.target else ""
        return [self.section, self.metric, f"{value} {self.unit}".strip(), target, self.verdict, self.note]


_HEADER = ["section", "metric", "value", "target", "verdict", "note"]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def results_document(rows: list[Row], command: str, seconds: float) -> str:
    verdicts = [row.verdict for row in rows if row.verdict]
    summary = f"{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS"
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"- command: `{command}`",
            f"- finished: {datetime.now(UTC).isoformat(timespec='seconds')}, took {seconds:.0f} s",
            f"- machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}",
            f"- targets: {summary}",
            "",
            markdown_table(rows),
            "",
        ]
    )


def print_runs(run: Callable[[int], list[Row]], doc: str, *, count: str = "runs", default: int = 3) -> None:
    """`python -m bench.SECTION [--runs N]` (or another `count`): the section's rows over N, as a table."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(f"--{count}", type=int, default=default)
    print(markdown_table(run(getattr(parser.parse_args(), count))))


def real_time_factor_rows(
    section: str, measured: dict[str, list[tuple[float, float]]], targets: dict[str, float], label: str = "{}"
) -> tuple[list[Row], dict[str, float]]:
    """A row per variant of a render measured run after run as (wall s, video s): its median
    real-time factor against its target, if it has one; and the factors by variant."""
    rows, factors = [], {}
    for name, walls in measured.items():
        wall, video = sorted(walls)[len(walls) // 2]
        factors[name] = video / wall
        target = Target(">=", targets[name]) if name in targets else None
        note = f"{video:.1f} s of video; runs: {', '.join(f'{one:.2f}' for one, _ in walls)} s"
        rows.append(Row(section, f"{label.format(name)}: real-time factor (median)", factors[name], "x", target, note))
    return rows, factors

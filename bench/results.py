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


def print_runs(run: Callable[[int], list[Row]], doc: str) -> None:
    """`python -m bench.SECTION [--runs N]`: the section's rows over N runs, as a table."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    print(markdown_table(run(parser.parse_args().runs)))

"""Runs every benchmark section, prints one results table with PASS/MISS per target, and
writes it to bench/RESULTS.md.

    .venv/bin/pip install -e '.[bench]'          # once: the peers, the load generator, profilers
    .venv/bin/python -m bench [--only render,composition,throughput,api,job_table,fanout,store,instances,pictures,decks,
                                      voices,captions,look,preview]
"""

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    api_load,
    captions,
    decks,
    fanout,
    instances,
    job_table,
    look,
    peers,
    pictures,
    preview,
    render,
    store,
    throughput,
    voices,
)
from bench.results import Row, markdown_table, results_document

SECTIONS: dict[str, Callable[[], list[Row]]] = {
    render.SECTION: render.run,
    peers.SECTION: peers.run,
    throughput.SECTION: throughput.run,
    api_load.SECTION: api_load.rows,
    job_table.SECTION: job_table.run,
    fanout.SECTION: fanout.rows,
    store.SECTION: store.run,
    instances.SECTION: instances.run,
    pictures.SECTION: pictures.run,
    decks.SECTION: decks.run,
    voices.SECTION: voices.run,
    captions.SECTION: captions.run,
    look.SECTION: look.run,
    preview.SECTION: preview.run,
}
RESULTS = Path(__file__).with_name("RESULTS.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {', '.join(SECTIONS)}")
    started = time.perf_counter()
    rows: list[Row] = []
    for name in chosen:
        print(f"== {name}", flush=True)
        section_rows = SECTIONS[name]()
        print(markdown_table(section_rows), flush=True)
        rows += section_rows
    command = "python -m bench " + shlex.join(sys.argv[1:])
    args.output.write_text(results_document(rows, command.strip(), time.perf_counter() - started), encoding="utf-8")
    print(f"\n{markdown_table(rows)}\n\nwritten to {args.output}")


if __name__ == "__main__":
    main()

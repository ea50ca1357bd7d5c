"""Deck import through the real API, seconds per page: POST /api/v2/videos/{id}/decks → 202
(the deck accepted, its pages counted) and on to SUCCEEDED (the script written), the import
polled every POLL_IMPORT_SEC as a client follows it; a 10-page and a 100-page PDF, and the
reference script as a 12-slide Korean PPTX with speaker notes (and its scenes repeated to 100
slides), every page with text and a photo. Each import splits into its conversion
(services/api/decks/pages.py, its own process, timed from outside while it lives) and the rest
(the upload, storing the pages and the script); the conversion also runs alone, as
conversion.py runs it (told its parent, given its go on stdin), for its peak memory. Beside
it, in the same run, the peer approach (SlideSpeaker's): `pdftoppm -r 150` over the same PDF,
and a PPTX converted by `soffice --convert-to pdf` once per slide, the whole deck each time
(one conversion measured, times the slides). 200 pages, the cap (DECK_MAX_PAGES), extrapolated
from the two decks of each kind.

    .venv/bin/python -m bench.decks [--runs 3]

Needs LibreOffice (libreoffice-impress), a Korean font (fonts-nanum), poppler-utils (pdftoppm)
and GNU time (/usr/bin/time).
"""

import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.pictures import photo
from bench.render import QUIET_UNCACHED, reference_script
from bench.results import Row, print_runs
from services.api.decks.pages import soffice_to_pdf
from services.api.settings import Settings
from tests.client import new_video_id
from tests.decks import PAGE_SIZE, _pdf_file, coloured_page, pptx
from tests.stack import Stack

SECTION = "decks"
PDF_PAGES = (10, 100)
PPTX_SLIDES = (12, 100)
PHOTO_SIZE = (1280, 720)
"""A photo as a deck carries one, over a fifth of the page: JPEG, about 450 KB of sensor noise."""
PAGE_PHOTO = (500, 60, 420, 236)
"""Where on the 960×540 pt PDF page the photo goes: x, y, width, height in points."""
COLOURS = [(31, 78, 121), (192, 80, 77), (155, 187, 89), (128, 100, 162), (75, 172, 198), (247, 150, 70)]
POLL_SEC = 0.005
POLL_IMPORT_SEC = 0.02
"""How often the bench asks for the import's status (GET …/decks/{import_id}) until it ends."""
IMPORT_DEADLINE_SEC = 600
CONVERTER = b"services.api.decks.pages"


@dataclass(frozen=True)
class Deck:
    name: str
    kind: str
    """pdf or pptx: the converter's argument and the file's suffix."""
    data: bytes
    pages: int


@dataclass(frozen=True)
class Import:
    accepted: float
    """POST → 202: the upload, and the converter's first checks (page count, password, a PPTX's
    real size), which the request waits for."""
    seconds: float
    """POST → SUCCEEDED: the first poll that saw it (up to POLL_IMPORT_SEC and a GET late)."""
    converting: float
    """The conversion process's life, seen from outside (± POLL_SEC at each end): its checks
    before the 202 included, as before the import was a job."""
    first_page: float
    """POST → the first poll that saw a page drawn (pages_done > 0): the first sign of pages."""
    progress_seen: int
    """The distinct pages_done values the polls saw before SUCCEEDED (of 1 … pages)."""


@dataclass(frozen=True)
class Process:
    seconds: float
    peak_rss_mb: float
    """GNU time's maximum resident set: the largest of the process and the descendants it
    waited for (in a PPTX conversion, soffice.bin or the Python process rendering pages)."""


def run(runs: int = 3) -> list[Row]:
    decks = [*(_pdf_deck(count) for count in PDF_PAGES), *(_pptx_deck(count) for count in PPTX_SLIDES)]
    settings = Settings()
    soffice = shutil.which(settings.soffice)
    imports: dict[str, list[Import]] = {deck.name: [] for deck in decks}
    alone: dict[str, list[Process]] = {deck.name: [] for deck in decks}
    peer: dict[str, list[Process]] = {deck.name: [] for deck in decks}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as work:
        work = Path(work)
        # The peer's soffice runs on the user's profile, made by its first conversion ever.
        warm_profile = work / "peer-profile"
        _soffice_to_pdf(soffice, decks[-2], work, warm_profile)
        with Stack(data_dir=Path(data_dir), workers=1, extra_env=QUIET_UNCACHED).running() as stack:
            api_at_rest_mb = _status_mb(stack.api.pid, "VmRSS")
            # Every measure of a deck right after the others: their ratios share the machine's load.
            for _ in range(runs):
                for deck in decks:
                    imports[deck.name].append(_import(stack, deck))
                    alone[deck.name].append(_convert_alone(deck, work, settings, soffice))
                    peer[deck.name].append(
                        _pdftoppm(deck, work) if deck.kind == "pdf" else _soffice_to_pdf(soffice, deck, work, warm_profile)
                    )
            api_peak_mb = _status_mb(stack.api.pid, "VmHWM")
        fresh_profile = _soffice_to_pdf(soffice, decks[-2], work, work / "fresh-profile")
    load.append(os.getloadavg()[0])
    rows = [row for deck in decks for row in _deck_rows(deck, imports[deck.name], alone[deck.name], peer[deck.name])]
    rows.append(
        Row(
            SECTION,
            f"{decks[-2].name}: one soffice --convert-to pdf on a new profile",
            fresh_profile.seconds,
            "s",
            note="as pages.py runs it (a profile per conversion); the peer's rows use a warm one",
        )
    )
    cap = settings.deck_max_pages
    for kind in ("pdf", "pptx"):
        rows += _cap_rows([deck for deck in decks if deck.kind == kind], imports, peer, cap)
    rows += [
        Row(
            SECTION,
            "API peak RSS while importing (VmHWM)",
            api_peak_mb,
            "MB",
            note=f"{api_at_rest_mb:.0f} MB at rest (VmRSS); the body and each page pass through its memory",
        ),
        Row(
            SECTION,
            "load average (1 min), start → end",
            f"{load[0]:.2f} → {load[1]:.2f}",
            note=f"{os.cpu_count()} CPUs; {runs} runs of every deck, interleaved",
        ),
    ]
    return rows


def _import(stack: Stack, deck: Deck) -> Import:
    """One import, to a new video (the same bytes to the same video would answer the earlier
    import, 200, without converting), followed from its 202 to SUCCEEDED as a client follows
    it, watching the API's conversion process meanwhile."""
    with stack.client(timeout=600) as http, _ConversionWatch(stack.api.pid) as watch:
        started = time.perf_counter()
        response = http.post(f"/api/v2/videos/{new_video_id('bench-deck')}/decks", content=deck.data)
        accepted = time.perf_counter() - started
        if response.status_code != 202 or response.json()["pages"] != deck.pages:
            raise RuntimeError(f"importing the {deck.name} answered {response.status_code}: {response.text[:500]}")
        view, seconds, first_page, seen = response.json(), accepted, None, set()
        while view["status"] == "CONVERTING":
            if seconds > IMPORT_DEADLINE_SEC:
                raise RuntimeError(f"the import of the {deck.name} did not end in {IMPORT_DEADLINE_SEC} s: {view}")
            time.sleep(POLL_IMPORT_SEC)
            view = http.get(response.headers["location"]).json()
            seconds = time.perf_counter() - started
            if view["status"] == "CONVERTING" and view["pages_done"] > 0:
                seen.add(view["pages_done"])
                first_page = seconds if first_page is None else first_page
    if view["status"] != "SUCCEEDED" or view["pages_done"] != deck.pages or not view["script_id"]:
        raise RuntimeError(f"the import of the {deck.name} ended {view['status']}: {view}")
    return Import(accepted, seconds, watch.seconds, seconds if first_page is None else first_page, len(seen))


class _ConversionWatch:
    """Polls the API process's children: for how long a conversion process was alive. The
    API does not time its own steps, and a conversion run apart from the import would not
    share its moment's load."""

    def __init__(self, api_pid: int) -> None:
        self._api_pid = api_pid
        self._lives: dict[int, list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "_ConversionWatch":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        if len(self._lives) != 1:
            raise RuntimeError(f"expected one conversion process, saw {len(self._lives)}")
        ((first, last),) = self._lives.values()
        return last - first

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SEC):
            now = time.perf_counter()
            for pid in self._converters():
                self._lives.setdefault(pid, [now, now])[1] = now

    def _converters(self) -> list[int]:
        """The API's living conversion processes (an exited one, not yet reaped, has no command line)."""
        found = []
        for task in Path(f"/proc/{self._api_pid}/task").iterdir():
            try:
                children = (task / "children").read_text().split()
                found += [int(pid) for pid in children if CONVERTER in Path(f"/proc/{pid}/cmdline").read_bytes()]
            except (FileNotFoundError, ProcessLookupError):
                continue
        return found


def _convert_alone(deck: Deck, work: Path, settings: Settings, soffice: str) -> Process:
    """The conversion process with the arguments conversion.py gives it, on a new folder, and
    its go at once: the checks and the conversion, as in an import with a free slot."""
    with tempfile.TemporaryDirectory(dir=work) as folder:
        path = Path(folder) / f"deck.{deck.kind}"
        path.write_bytes(deck.data)
        (Path(folder) / "pages").mkdir()
        return _measured(
            [
                sys.executable,
                "-m",
                "services.api.decks.pages",
                deck.kind,
                str(path),
                f"{folder}/pages",
                f"--max-pages={settings.deck_max_pages}",
                f"--max-unzipped-bytes={settings.deck_max_unzipped_bytes}",
                "--frame={}x{}".format(*settings.render_resolution),
                f"--soffice={soffice}",
            ],
            work,
            converter=True,
        )


def _pdftoppm(deck: Deck, work: Path) -> Process:
    """The peer's PDF rasterization: every page to PNG at 150 dpi (2000×1125 for a 16:9 page,
    8 % more pixels than our 1920×1080)."""
    with tempfile.TemporaryDirectory(dir=work) as folder:
        path = Path(folder) / "deck.pdf"
        path.write_bytes(deck.data)
        return _measured(["pdftoppm", "-r", "150", "-png", str(path), f"{folder}/page"], work)


def _soffice_to_pdf(soffice: str, deck: Deck, work: Path, profile: Path) -> Process:
    """One `soffice --convert-to pdf` of the whole deck on `profile` (made by the first run on it)."""
    with tempfile.TemporaryDirectory(dir=work) as folder:
        path = Path(folder) / f"deck.{deck.kind}"
        path.write_bytes(deck.data)
        process = _measured(soffice_to_pdf(soffice, path, Path(folder), profile), work)
        if not (Path(folder) / "deck.pdf").exists():
            raise RuntimeError(f"soffice made no PDF of the {deck.name}")
    return process


def _measured(command: list[str], work: Path, *, converter: bool = False) -> Process:
    """Runs `command` to its end under GNU time: wall seconds and peak RSS. Through time
    rather than wait4 here: a child forked from this process starts with this process's
    (large) peak, which exec keeps; time's own children start from time's. A `converter`
    (pages.py) is told its parent, time, whose pid is that of a shell that execs it, and
    finds its go already on stdin."""
    report = work / "time.txt"
    timed = ["/usr/bin/time", "-f", "%M", "-o", str(report), *command]
    if converter:
        timed = ["sh", "-c", 'exec "$@" --parent-pid=$$', "sh", *timed]
    started = time.perf_counter()
    finished = subprocess.run(
        timed, input=b"go\n" if converter else b"", capture_output=True, check=False, start_new_session=True
    )
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited with {finished.returncode}: {finished.stderr[-1000:]!r}")
    return Process(seconds, int(report.read_text().split()[-1]) / 1024)


def _status_mb(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (the most it ever was) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def _pdf_deck(count: int) -> Deck:
    """`count` pages, each a coloured page with a heading, four lines of text and its own photo."""
    # Objects: 1 catalog, 2 page tree, 3 font, then per page its page, its content and its photo.
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 3 * index) for index in range(count)) + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index in range(count):
        content = coloured_page(COLOURS[index % len(COLOURS)], f"Page {index + 1}: quarterly review") + _pdf_text(index)
        content += b" q %d 0 0 %d %d %d cm /Photo Do Q" % (PAGE_PHOTO[2], PAGE_PHOTO[3], PAGE_PHOTO[0], PAGE_PHOTO[1])
        picture = photo(index % 40, PHOTO_SIZE)
        objects += [
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> "
            b"/XObject << /Photo %d 0 R >> >> /Contents %d 0 R >>" % (*PAGE_SIZE, 6 + 3 * index, 5 + 3 * index),
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 "
            b"/Filter /DCTDecode /Length %d >>\nstream\n" % (*PHOTO_SIZE, len(picture)) + picture + b"\nendstream",
        ]
    return Deck(f"{count}-page PDF", "pdf", _pdf_file(objects), count)


def _pdf_text(index: int) -> bytes:
    lines = [
        f"Revenue grew {index % 9 + 2}% over the quarter",
        "Costs held flat against plan",
        f"{index + 3} new customers signed",
        "Next: hiring for the second half",
    ]
    shown = b" 0 -34 Td ".join(b"(%s) Tj" % line.encode("ascii") for line in lines)
    return b" 0 0 0 rg BT /F1 24 Tf 40 360 Td " + shown + b" ET"


def _pptx_deck(count: int) -> Deck:
    """The reference script's scenes as `count` slides (repeated past its 12): titles as
    headings, bullets as text, narration as speaker notes, and a photo on every slide."""
    from pptx import Presentation
    from pptx.util import Inches, Pt

    script = reference_script()
    scenes = [script["scenes"][index % len(script["scenes"])] for index in range(count)]
    deck = Presentation(
        io.BytesIO(
            pptx(
                [
                    (COLOURS[index % len(COLOURS)], scene["slide"]["title"], scene["narration"])
                    for index, scene in enumerate(scenes)
                ],
                title=script["title"],
            )
        )
    )
    for index, (slide, scene) in enumerate(zip(deck.slides, scenes)):
        box = slide.shapes.add_textbox(Inches(1), Inches(2.2), Inches(6), Inches(4))
        box.text_frame.word_wrap = True
        for number, bullet in enumerate(scene["slide"]["bullets"]):
            paragraph = box.text_frame.paragraphs[0] if number == 0 else box.text_frame.add_paragraph()
            paragraph.text = f"• {bullet}"
            paragraph.font.size = Pt(28)
        slide.shapes.add_picture(io.BytesIO(photo(index % 40, PHOTO_SIZE)), Inches(7.3), Inches(2.2), width=Inches(5.5))
    out = io.BytesIO()
    deck.save(out)
    return Deck(f"{count}-slide Korean PPTX", "pptx", out.getvalue(), count)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _span(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}–{high}"


def _deck_rows(deck: Deck, imports: list[Import], alone: list[Process], peer: list[Process]) -> list[Row]:
    accepted = _median([one.accepted for one in imports])
    imported = _median([one.seconds for one in imports])
    converting = _median([one.converting for one in imports])
    storing = _median([one.seconds - one.converting for one in imports])
    by_itself = _median([one.seconds for one in alone])
    rows = [
        Row(
            SECTION,
            f"{deck.name}: import, POST → 202 (median)",
            accepted,
            "s",
            note=f"runs: {', '.join(f'{one.accepted:.2f}' for one in imports)} s; first page drawn seen at "
            f"{_median([one.first_page for one in imports]):.2f} s, polls saw "
            f"{_span([one.progress_seen for one in imports])} of its {deck.pages} page counts",
        ),
        Row(
            SECTION,
            f"{deck.name}: import, POST → SUCCEEDED (median)",
            imported,
            "s",
            note=f"{len(deck.data) / 1e6:.1f} MB; runs: {', '.join(f'{one.seconds:.2f}' for one in imports)} s",
        ),
        Row(SECTION, f"{deck.name}: import per page", imported / deck.pages, "s"),
        Row(
            SECTION,
            f"{deck.name}: conversion within the import (median)",
            converting,
            "s",
            note=f"{converting / deck.pages:.3f} s per page; run alone: {by_itself:.2f} s, "
            f"peak RSS {max(one.peak_rss_mb for one in alone):.0f} MB",
        ),
        Row(
            SECTION,
            f"{deck.name}: the rest, storing pages and script (median)",
            storing,
            "s",
            note=f"{storing / deck.pages:.3f} s per page; import − conversion, per run (the upload and the polls' lag too)",
        ),
    ]
    theirs = _median([one.seconds for one in peer])
    peak = f"peak RSS {max(one.peak_rss_mb for one in peer):.0f} MB"
    if deck.kind == "pdf":
        return [
            *rows,
            Row(
                SECTION,
                f"{deck.name}: pdftoppm -r 150 -png (median)",
                theirs,
                "s",
                note=f"{theirs / deck.pages:.3f} s per page; {peak}",
            ),
            Row(SECTION, f"{deck.name}: pdftoppm ÷ our conversion (run alone)", theirs / by_itself, "x"),
            Row(SECTION, f"{deck.name}: pdftoppm ÷ our whole import", theirs / imported, "x"),
        ]
    per_slide = theirs * deck.pages
    return [
        *rows,
        Row(SECTION, f"{deck.name}: one soffice --convert-to pdf, warm profile (median)", theirs, "s", note=peak),
        Row(
            SECTION,
            f"{deck.name}: soffice once per slide ({deck.pages} × one conversion)",
            per_slide,
            "s",
            note="one conversion measured, multiplied; their PDF → PNG not counted",
        ),
        Row(SECTION, f"{deck.name}: per-slide soffice ÷ our whole import", per_slide / imported, "x"),
    ]


def _cap_rows(decks: list[Deck], imports: dict[str, list[Import]], peer: dict[str, list[Process]], cap: int) -> list[Row]:
    """`cap` pages on the straight line through the medians of the two decks of a kind (a fixed
    start-up cost and a cost per page): what a client waits at the cap, for its 202 and for
    its script."""
    small, large = decks

    def at_cap(measured: dict[str, list], seconds) -> float:
        low, high = (_median([seconds(one) for one in measured[deck.name]]) for deck in (small, large))
        return high + (high - low) / (large.pages - small.pages) * (cap - large.pages)

    pdf = small.kind == "pdf"
    name = f"{cap}-page PDF" if pdf else f"{cap}-slide PPTX"
    theirs = at_cap(peer, lambda one: one.seconds)
    return [
        Row(
            SECTION,
            f"{name} (extrapolated): import, POST → 202",
            at_cap(imports, lambda one: one.accepted),
            "s",
            note=f"line through the {small.pages}- and {large.pages}-page medians",
        ),
        Row(SECTION, f"{name} (extrapolated): import, POST → SUCCEEDED", at_cap(imports, lambda one: one.seconds), "s"),
        Row(SECTION, f"{name} (extrapolated): conversion within the import", at_cap(imports, lambda one: one.converting), "s"),
        Row(SECTION, f"{name} (extrapolated): pdftoppm -r 150", theirs, "s")
        if pdf
        else Row(SECTION, f"{name} (extrapolated): soffice once per slide", theirs * cap, "s", note=f"{cap} × {theirs:.1f} s"),
    ]


if __name__ == "__main__":
    print_runs(run, __doc__)

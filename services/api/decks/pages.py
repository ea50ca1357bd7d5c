"""A deck's pages as images: run as its own process (`python -m services.api.decks.pages`).

Its own process because PDFium is not thread-safe, even across documents, and because a
hostile file that crashes or hangs it (or LibreOffice) must take down only this conversion:
the API kills the process group at its deadline.

In: the deck file, its kind (pdf or pptx), the limits. It checks the deck first (what it
expands to, its page count, a password) and reports `accepted` on stdout; then it waits for a
line on stdin, which the API sends when a conversion slot is free, and converts, reporting
each page. Out, in the output folder: `page-NNN.jpg` per page and `manifest.json`
(`Manifest`), or `refusal.json` (`Refusal`) and exit status 3 for a deck it refuses, before
or after `accepted`. Stdout carries one JSON `Event` per line.
"""

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec
import pypdfium2 as pdfium

MANIFEST = "manifest.json"
REFUSAL = "refusal.json"
REFUSED_EXIT_STATUS = 3
JPEG_QUALITY = 90
_READ_CHUNK = 1024 * 1024


class Page(msgspec.Struct, kw_only=True):
    file: str
    width: int
    height: int
    text: str
    """The page's text layer, for the scene's hint."""
    notes: str
    """The PPTX speaker notes of this page's slide; "" for a PDF."""


class Manifest(msgspec.Struct, kw_only=True):
    title: str
    """The document's own title (PDF Title, PPTX core title); "" when it has none."""
    pages: list[Page]


class Event(msgspec.Struct, kw_only=True):
    kind: Literal["accepted", "converting", "page"]
    """accepted: checked, `pages` and `title` known, waiting for the go; converting: LibreOffice
    is making the PDF (no page events until it is done); page: `pages` pages are drawn."""
    pages: int = 0
    title: str = ""


class Refusal(msgspec.Struct, kw_only=True):
    error_code: str
    """MEDIA_INVALID or MEDIA_TOO_LARGE (libs/contracts/codes.py; not imported, to start fast)."""
    message: str
    detail: dict = {}


class Refused(Exception):
    def __init__(self, error_code: str, message: str, **detail) -> None:
        super().__init__(message)
        self.refusal = Refusal(error_code=error_code, message=message, detail=detail)


Report = Callable[[Event], None]


def convert(
    kind: str,
    deck: Path,
    out: Path,
    *,
    max_pages: int,
    max_unzipped_bytes: int,
    frame: tuple[int, int],
    soffice: str,
    report: Report,
    wait_for_go: Callable[[], None],
) -> Manifest:
    """The deck's pages drawn into `out`, reporting as it goes (see the module's text)."""
    if kind == "pdf":
        pdf = _open_pdf(deck)
        _check_page_count(len(pdf), max_pages)
        title = (pdf.get_metadata_dict().get("Title") or "").strip()
        report(Event(kind="accepted", pages=len(pdf), title=title))
        wait_for_go()
        return Manifest(title=title, pages=_draw(pdf, out, frame, [""] * len(pdf), report))
    _expand_within(deck, max_unzipped_bytes)
    title, notes = _read_notes(deck)
    _check_page_count(len(notes), max_pages)  # before the slow conversion
    report(Event(kind="accepted", pages=len(notes), title=title))
    wait_for_go()
    report(Event(kind="converting"))
    pdf = _open_pdf(_libreoffice_pdf(deck, out, soffice))
    if len(pdf) != len(notes):
        raise Refused(
            "MEDIA_INVALID",
            f"LibreOffice made {len(pdf)} pages of the deck's {len(notes)} shown "
            "slides, so the speaker notes cannot be matched to pages.",
            reason="page_count",
        )
    return Manifest(title=title, pages=_draw(pdf, out, frame, notes, report))


def _open_pdf(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise Refused(
                "MEDIA_INVALID",
                "The PDF is encrypted (password-protected); remove the password and upload it again.",
                reason="encrypted",
            ) from error
        raise Refused(
            "MEDIA_INVALID", "The PDF is corrupt and cannot be opened.", reason="corrupt", decoder=str(error)
        ) from error


def _check_page_count(count: int, max_pages: int) -> None:
    if count > max_pages:
        raise Refused(
            "MEDIA_TOO_LARGE",
            f"The deck has {count:,} pages; at most {max_pages:,} are accepted (DECK_MAX_PAGES: one scene per page).",
            pages=count,
            max_pages=max_pages,
        )
    if count == 0:
        raise Refused("MEDIA_INVALID", "The deck has no pages (or only hidden slides).", reason="empty")


def _draw(pdf: pdfium.PdfDocument, out: Path, frame: tuple[int, int], notes: list[str], report: Report) -> list[Page]:
    pages = []
    for index in range(len(pdf)):
        pages.append(_draw_page(pdf[index], index, out, frame, notes[index]))
        report(Event(kind="page", pages=index + 1))
    return pages


def _draw_page(page: pdfium.PdfPage, index: int, out: Path, frame: tuple[int, int], notes: str) -> Page:
    """The page fitted to `frame` (the bitmap is bounded by it, whatever size the file
    declares), as a JPEG: a PNG of a page with a photo took four times as long to write as the
    page took to draw (bench/decks.py), and the video is lossy anyway. 4:4:4, so coloured
    text keeps its edges."""
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        raise Refused("MEDIA_INVALID", f"Page {index + 1} has no area.", reason="corrupt", page=index + 1)
    scale = min(frame[0] / width, frame[1] / height)
    # White under transparent areas, as a PDF viewer shows the page.
    image = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil().convert("RGB")
    name = f"page-{index + 1:03d}.jpg"
    image.save(out / name, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    return Page(
        file=name, width=image.width, height=image.height, text=page.get_textpage().get_text_bounded().strip(), notes=notes
    )


def soffice_to_pdf(soffice: str, deck_path: Path, out: Path, profile: Path) -> list[str]:
    """The LibreOffice command that writes `deck_path` as a PDF into `out`, on `profile`."""
    return [
        soffice,
        "--headless",
        "--norestore",
        "--nologo",
        "--nolockcheck",
        f"-env:UserInstallation={profile.as_uri()}",
        "--convert-to",
        "pdf",
        "--outdir",
        str(out),
        str(deck_path),
    ]


def _libreoffice_pdf(pptx_path: Path, out: Path, soffice: str) -> Path:
    """The PPTX as a PDF, by LibreOffice with a profile of its own (a second soffice on a shared
    profile exits silently without a PDF)."""
    converted = subprocess.run(
        soffice_to_pdf(soffice, pptx_path, out, out / "libreoffice-profile"),
        # HOME too: the systemd unit hides the service user's home (ProtectHome), and LibreOffice
        # and fontconfig write caches there.
        env={**os.environ, "HOME": str(out)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=die_with_parent,
    )
    pdf_path = out / f"{pptx_path.stem}.pdf"
    if not pdf_path.exists():
        raise Refused(
            "MEDIA_INVALID",
            "LibreOffice could not convert the PPTX to pages; it may be corrupt.",
            reason="conversion",
            converter=(converted.stderr or converted.stdout)[-500:],
        )
    return pdf_path


def _expand_within(pptx_path: Path, max_unzipped_bytes: int) -> None:
    """Decompresses every member, counting: a member larger than it declares fails its CRC in
    zipfile, and the total may not pass `max_unzipped_bytes` (the API already checked the
    declared sizes), so neither python-pptx nor LibreOffice is handed a zip bomb."""
    total = 0
    try:
        with zipfile.ZipFile(pptx_path) as archive:
            for member in archive.infolist():
                with archive.open(member) as stream:
                    while chunk := stream.read(_READ_CHUNK):
                        total += len(chunk)
                        if total > max_unzipped_bytes:
                            raise Refused(
                                "MEDIA_TOO_LARGE",
                                f"The PPTX expands to more than {max_unzipped_bytes:,} bytes (DECK_MAX_UNZIPPED_BYTES).",
                                max_unzipped_bytes=max_unzipped_bytes,
                                reason="zip_bomb",
                            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as error:
        raise Refused("MEDIA_INVALID", "The PPTX is a corrupt ZIP archive.", reason="corrupt", decoder=str(error)) from error


def _read_notes(pptx_path: Path) -> tuple[str, list[str]]:
    """(core title, the speaker notes of each shown slide, "" where it has none)."""
    from pptx import Presentation  # only PPTX conversions pay for importing it

    try:
        presentation = Presentation(str(pptx_path))
        notes = [
            # has_notes_slide first: reading notes_slide creates an empty one.
            slide.notes_slide.notes_text_frame.text.strip()
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None
            else ""
            for slide in presentation.slides
            if slide._element.get("show") not in ("0", "false")  # hidden: LibreOffice does not export it
        ]
        return (presentation.core_properties.title or "").strip(), notes
    except Exception as error:  # python-pptx raises whatever its XML and package readers meet
        raise Refused(
            "MEDIA_INVALID",
            "The PPTX cannot be read; it may be corrupt.",
            reason="corrupt",
            decoder=f"{type(error).__name__}: {error}",
        ) from error


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Asks Linux to kill this process when its parent dies: an API instance killed outright
    (SIGKILL, OOM) cannot stop its conversions itself, and a hung LibreOffice would otherwise
    run on with nobody waiting for it. Kept across exec, so soffice gets it too."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _report_on_stdout(event: Event) -> None:
    sys.stdout.buffer.write(msgspec.json.encode(event) + b"\n")
    sys.stdout.flush()


def _wait_for_go() -> None:
    if not sys.stdin.readline():  # the API went away before it had a slot for this conversion
        sys.exit(1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("pdf", "pptx"))
    parser.add_argument("deck", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-pages", type=int, required=True)
    parser.add_argument("--max-unzipped-bytes", type=int, required=True)
    parser.add_argument("--frame", type=lambda value: tuple(map(int, value.split("x"))), required=True)
    parser.add_argument("--soffice", default="soffice")
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent()
    if os.getppid() != args.parent_pid:  # the API died before the line above took effect
        return 1
    try:
        manifest = convert(
            args.kind,
            args.deck,
            args.out,
            max_pages=args.max_pages,
            frame=args.frame,
            max_unzipped_bytes=args.max_unzipped_bytes,
            soffice=args.soffice,
            report=_report_on_stdout,
            wait_for_go=_wait_for_go,
        )
    except Refused as refused:
        (args.out / REFUSAL).write_bytes(msgspec.json.encode(refused.refusal))
        return REFUSED_EXIT_STATUS
    (args.out / MANIFEST).write_bytes(msgspec.json.encode(manifest))
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(sys.argv[1:]))

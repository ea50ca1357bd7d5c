"""Decks the tests build themselves: PDFs written object by object, PPTX with python-pptx, and
the hostile files the deck endpoint must refuse."""

import io
import struct
import zipfile

PAGE_SIZE = (960, 540)
"""Points: a 16:9 page, rendered to exactly 1920×1080."""


def pdf(contents: list[bytes], size: tuple[int, int] = PAGE_SIZE) -> bytes:
    """A PDF with one page per content stream, Helvetica available as /F1."""
    count = len(contents)
    # Objects: 1 catalog, 2 page tree, 3 font, then per page its page object and its content stream.
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * index) for index in range(count)) + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, content in enumerate(contents):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (*size, 5 + 2 * index)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def coloured_page(rgb: tuple[int, int, int], text: str, size: tuple[int, int] = PAGE_SIZE) -> bytes:
    """A page filled with `rgb`, a white square in its middle, and `text` (ASCII) at the top left."""
    red, green, blue = (channel / 255 for channel in rgb)
    width, height = size
    return b"%.3f %.3f %.3f rg 0 0 %d %d re f 1 1 1 rg %d %d 100 100 re f 0 0 0 rg BT /F1 36 Tf 40 %d Td (%s) Tj ET" % (
        red,
        green,
        blue,
        width,
        height,
        width // 2 - 50,
        height // 2 - 50,
        height - 70,
        text.encode("ascii"),
    )


def pdf_of_pages(count: int) -> bytes:
    """`count` blank pages sharing one content stream: small however many pages it has."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + index) for index in range(count)) + b"] /Count %d >>" % count,
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] /Contents 3 0 R >>"] * count
    return _pdf_file(objects)


def encrypted(document: bytes, password: str = "secret") -> bytes:
    """The PDF with a user password: it opens only with the password."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(document))
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pptx(slides: list[tuple[tuple[int, int, int], str, str | None]], title: str = "", hidden: tuple[int, ...] = ()) -> bytes:
    """A 16:9 PPTX: per slide (fill colour, title text, speaker notes or None for no notes
    slide); the slides at the `hidden` indexes are hidden from the show."""
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    deck.core_properties.title = title
    for index, (rgb, heading, notes) in enumerate(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank
        fill = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, deck.slide_width, deck.slide_height)
        fill.fill.solid()
        fill.fill.fore_color.rgb = RGBColor(*rgb)
        fill.line.fill.background()
        box = slide.shapes.add_textbox(Inches(1), Inches(0.5), Inches(11), Inches(1.5))
        box.text_frame.text = heading
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(54)
        box.text_frame.paragraphs[0].runs[0].font.color.rgb = RGBColor(0, 0, 0)
        if notes is not None:
            slide.notes_slide.notes_text_frame.text = notes
        if index in hidden:
            slide._element.set("show", "0")
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


_PPTX_PARTS = {"[Content_Types].xml": b"<?xml version='1.0'?><Types/>", "ppt/presentation.xml": b"<p/>"}


def docx_like() -> bytes:
    """A Word document's parts, in a ZIP: the signature a PPTX has, but not a deck."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _PPTX_PARTS["[Content_Types].xml"])
        archive.writestr("word/document.xml", b"<w:document/>")
    return out.getvalue()


def zip_bomb(expanded_bytes: int = 256 * 1024 * 1024) -> bytes:
    """Looks like a PPTX (the parts a PPTX must have) and holds `expanded_bytes` of zeros,
    compressed about 1000:1."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in _PPTX_PARTS.items():
            archive.writestr(name, data)
        with archive.open("ppt/media/zeros.bin", "w") as member:
            chunk = bytes(1024 * 1024)
            for _ in range(expanded_bytes // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def lying_zip_bomb() -> bytes:
    """A PPTX-shaped ZIP whose last member declares 1 KiB but expands to 64 MiB: checking the
    declared sizes alone would let it through."""
    data = bytearray(zip_bomb(64 * 1024 * 1024))
    central = data.rindex(b"PK\x01\x02")  # the last member's central directory record
    (local,) = struct.unpack_from("<I", data, central + 42)
    struct.pack_into("<I", data, central + 24, 1024)  # its uncompressed size, in both records
    struct.pack_into("<I", data, local + 22, 1024)
    return bytes(data)

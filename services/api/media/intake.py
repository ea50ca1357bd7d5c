"""An uploaded image's bytes in, the image to store out, or a refusal that names the problem.

Pure: Pillow on in-memory bytes, nothing else. The caller refuses bodies over
`MediaLimits.max_bytes` (413) before calling `intake`; this module does not look at it.

Nothing about the upload is trusted but its bytes: the format is sniffed from them, the size
is checked from the header before any pixel is decoded (a decompression bomb is a few KB on
disk), and the stored image is re-encoded from the pixels alone, so no metadata (EXIF with
its GPS position, XMP, text chunks, ICC profiles) survives.
"""

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageMath, ImageOps

from services.api.errors import MediaInvalid, MediaTooLarge, UnsupportedMediaType
from services.api.media.identity import identity_of


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int
    """The largest upload body; enforced by the caller (413), not by `intake`."""
    max_pixels: int
    """Width × height an image may declare."""
    max_side_px: int
    """The longest side an image may declare."""


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    """The re-encoded image: PNG when it uses transparency, JPEG otherwise; no metadata."""
    content_type: str
    width: int
    height: int
    """Of `data`: as displayed, after the EXIF orientation was applied."""
    sha256: str
    """Hex SHA-256 of the uploaded bytes, so the same upload always gets the same id."""
    media_id: str


_ACCEPTED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
"""Pillow's format id → the name a message uses. Only these are ever decoded."""

_ACCEPTED_UPLOADS = "a PNG, JPEG or WebP image, a TTF or OTF font, or WAV, MP3, M4A, Ogg or FLAC audio"
"""The media endpoint hands this intake every upload that is neither a font nor audio
(kinds.py), so a refusal of bytes nobody accepts names all three kinds."""

_COMMON_MISTAKES = (
    (b"gif8", "a GIF"),
    (b"%pdf", "a PDF"),
    (b"%!ps", "PostScript (EPS)"),
    (b"<svg", "an SVG"),
    (b"<?xml", "XML (such as SVG)"),
    (b"<!doctype html", "HTML"),
    (b"<html", "HTML"),
)
"""Formats people commonly upload by mistake, named in the refusal so they know what to convert."""

_GREY_16_BIT = ("I;16", "I;16B", "I;16L", "I")
"""How Pillow opens a 16-bit greyscale PNG (the name depends on its version); the only wide
mode these three formats produce."""

_ANIMATABLE = ("PNG", "WEBP")
"""Formats whose extra frames are an animation. A multi-picture JPEG (MPO, from cameras) is not
animated: its first frame is the photo, the others are previews or stereo views, and only the
first is decoded."""

_JPEG_QUALITY = 90

_DECODE_ERRORS = (OSError, SyntaxError, ValueError)
"""What Pillow's parsers raise on bad data (UnidentifiedImageError is an OSError; a broken PNG
chunk is a SyntaxError, a short IHDR a ValueError). LOAD_TRUNCATED_IMAGES stays False, so
truncated pixel data raises too instead of decoding with the rest left blank."""


def intake(data: bytes, limits: MediaLimits) -> StoredImage:
    """The image to store for these uploaded bytes.

    Raises UnsupportedMediaType (not PNG, JPEG or WebP), MediaTooLarge (too many pixels or too
    long a side, from the header) or MediaInvalid (truncated, corrupt or animated).
    """
    image_format = _sniff(data)
    name = _ACCEPTED_FORMATS[image_format]
    image = _open(data, image_format, name, limits)
    _check_size(*image.size, limits)
    # n_frames: on the image plugins of the formats that can animate only.
    frames: int = getattr(image, "n_frames", 1)
    if image_format in _ANIMATABLE and frames > 1:
        raise MediaInvalid(
            f"The {name} image is animated ({frames} frames); animated images are not supported: upload a single frame.",
            frames=frames,
        )
    try:
        image.load()
    except _DECODE_ERRORS as error:
        raise MediaInvalid(f"The {name} image is truncated or corrupt and cannot be decoded.", decoder=str(error)) from error
    # The size the viewer sees: a phone photo is often stored sideways with an Orientation tag.
    # In place: an upright image (most) is then not copied, and 50 MP of RGBA is 200 MB.
    ImageOps.exif_transpose(image, in_place=True)
    pixels = _normalise_mode(image)
    stored, content_type = _encode(pixels)
    sha256, media_id = identity_of(data)
    return StoredImage(
        data=stored,
        content_type=content_type,
        width=pixels.width,
        height=pixels.height,
        sha256=sha256,
        media_id=media_id,
    )


def _sniff(data: bytes) -> str:
    """The format the bytes themselves declare; a file name or Content-Type is never consulted."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if not data:
        raise UnsupportedMediaType(f"The upload is empty: send {_ACCEPTED_UPLOADS}.", detected="empty")
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    detected = next((what for prefix, what in _COMMON_MISTAKES if head.startswith(prefix)), None)
    if detected is None:
        raise UnsupportedMediaType(
            f"The upload is not {_ACCEPTED_UPLOADS} (judged by its bytes, not its name or Content-Type).",
            detected="unknown",
        )
    raise UnsupportedMediaType(
        f"The upload is {detected}, not a PNG, JPEG or WebP image; convert it to one of those.", detected=detected
    )


# Pillow warns about images past 89 MP before failing past twice that. The size check below
# refuses anything over MEDIA_MAX_PIXELS from the header, so the warning would only repeat it
# (or, with a higher limit, warn about what the operator allowed). Set once at import: a filter
# changed per call would race between the threads uploads are decoded on.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _open(data: bytes, image_format: str, name: str, limits: MediaLimits) -> Image.Image:
    """The image with only its header read. Only the sniffed format's decoder may try it: an
    allow-list, so that nothing else (EPS would go to Ghostscript) is ever handed these bytes."""
    try:
        return Image.open(io.BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError as error:
        raise MediaTooLarge(
            f"The {name} image declares more pixels than can be decoded safely; at most "
            f"{limits.max_pixels:,} pixels and {limits.max_side_px:,} px a side are accepted.",
            max_pixels=limits.max_pixels,
            max_side_px=limits.max_side_px,
            decoder=str(error),
        ) from error
    except _DECODE_ERRORS as error:
        raise MediaInvalid(
            f"The upload begins like a {name} image but its header cannot be read: it is corrupt or truncated."
        ) from error


def _check_size(width: int, height: int, limits: MediaLimits) -> None:
    detail = {"width": width, "height": height, "max_pixels": limits.max_pixels, "max_side_px": limits.max_side_px}
    if max(width, height) > limits.max_side_px:
        raise MediaTooLarge(f"The image is {width:,}×{height:,} px; a side may be at most {limits.max_side_px:,} px.", **detail)
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"The image is {width:,}×{height:,} px ({width * height:,} pixels); "
            f"at most {limits.max_pixels:,} pixels are accepted.",
            **detail,
        )


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGBA when transparency is used, RGB otherwise: the only two modes the renderer is handed.

    Greyscale becomes RGB too; one fewer case downstream costs a JPEG almost nothing, since
    empty chroma compresses to next to no bytes.
    """
    if image.mode in _GREY_16_BIT:
        image = _grey_16_to_8_bit(image)
    # An alpha band (LA, PA, RGBA) or a tRNS key colour (P, L, RGB). Alpha is never flattened
    # here: the renderer composites over the slide background, and flattening would expose
    # whatever colour lies under alpha 0.
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    # CMYK (Pillow undoes Adobe's inverted JPEGs when decoding) and YCbCr convert directly.
    image = image.convert("RGBA" if has_alpha else "RGB")
    if has_alpha and image.getchannel("A").getextrema()[0] == 255:
        image = image.convert("RGB")  # Opaque everywhere: nothing hidden to expose, store a JPEG.
    return image


def _grey_16_to_8_bit(image: Image.Image) -> Image.Image:
    """Scaled, not clipped: a plain convert turns every value above 255 (almost all) white."""
    wide = image.convert("I")
    grey = wide.point(lambda value: value / 256).convert("L")
    key = image.info.get("transparency")
    if key is None:
        return grey
    # The tRNS key is one 16-bit value; after scaling it would match 256 of them, so the
    # alpha comes from the exact comparison on the wide values.
    alpha = ImageMath.lambda_eval(lambda args: (args["wide"] != key) * 255, wide=wide).convert("L")
    return Image.merge("LA", (grey, alpha))


def _encode(image: Image.Image) -> tuple[bytes, str]:
    """PNG for RGBA, JPEG for RGB. Written from the pixels alone: every metadata item Pillow
    carried over (PNG would re-embed an ICC profile from it) is dropped first. Dropping the
    ICC profile treats wide-gamut images (Display P3, Adobe RGB) as sRGB: slightly duller
    colours, accepted for slides rather than converting profiles here."""
    image.info.clear()
    buffer = io.BytesIO()
    if image.mode == "RGBA":
        image.save(buffer, "PNG")
        return buffer.getvalue(), "image/png"
    image.save(buffer, "JPEG", quality=_JPEG_QUALITY, optimize=True)
    return buffer.getvalue(), "image/jpeg"

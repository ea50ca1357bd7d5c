"""services/api/media/intake.py: what an uploaded image becomes, and what is refused. Every input
is made here with Pillow or written out as bytes."""

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from services.api.errors import MediaInvalid, MediaTooLarge, UnsupportedMediaType
from services.api.media.intake import MediaLimits, StoredImage, intake

LIMITS = MediaLimits(max_bytes=25 * 1024 * 1024, max_pixels=50_000_000, max_side_px=12_000)

RED, GREEN, BLUE, MAGENTA = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 255)
ORIENTATION, GPS_IFD, GPS_LATITUDE_REF, GPS_LATITUDE = 0x0112, 0x8825, 1, 2


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def decoded(stored: StoredImage) -> Image.Image:
    image = Image.open(io.BytesIO(stored.data))
    image.load()
    return image


def close_to(actual, expected, tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def noise_jpeg() -> bytes:
    """Big enough that cutting it in half loses pixel data, not just the end marker."""
    return encode(Image.effect_noise((256, 256), 64).convert("RGB"), "JPEG", quality=95)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG whose IHDR (CRC fixed) declares another size: a valid header whose pixel
    data could never match, so only a check made before decoding can refuse it."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    # Signature (8), chunk length (4), b"IHDR" (12..16), width and height (16..24), …, CRC (29..33).
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(data[12:29]))
    return bytes(data)


def two_frames(image_format: str) -> bytes:
    frames = [Image.new("RGB", (32, 32), RED), Image.new("RGB", (32, 32), BLUE)]
    return encode(frames[0], image_format, save_all=True, append_images=frames[1:])


# Accepted


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
def test_an_opaque_image_of_each_accepted_format_is_stored_as_jpeg(image_format):
    upload = encode(Image.new("RGB", (64, 48), BLUE), image_format)

    stored = intake(upload, LIMITS)

    assert (stored.content_type, stored.width, stored.height) == ("image/jpeg", 64, 48)
    image = decoded(stored)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (64, 48))
    assert close_to(image.getpixel((32, 24)), BLUE, 4)
    assert stored.sha256 == hashlib.sha256(upload).hexdigest()
    assert stored.media_id == "med-" + stored.sha256[:32]


def test_the_same_upload_gets_the_same_id_and_another_upload_another():
    upload = encode(Image.new("RGB", (16, 16), RED), "PNG")
    other = encode(Image.new("RGB", (16, 16), GREEN), "PNG")

    assert intake(upload, LIMITS).media_id == intake(upload, LIMITS).media_id
    assert intake(upload, LIMITS).media_id != intake(other, LIMITS).media_id


def test_exif_orientation_is_applied_and_exif_with_gps_is_gone():
    # Stored sideways, left quarter red: displayed (Orientation 6 = turn 90° clockwise) it is
    # 300 wide, 400 high, with the red along the top.
    sideways = Image.new("RGB", (400, 300), BLUE)
    sideways.paste(RED, (0, 0, 100, 300))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    gps = exif.get_ifd(GPS_IFD)
    gps[GPS_LATITUDE_REF] = "N"
    gps[GPS_LATITUDE] = (48.0, 51.0, 29.0)
    upload = encode(sideways, "JPEG", exif=exif)
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(GPS_IFD)  # The upload does carry a position.

    stored = intake(upload, LIMITS)

    assert (stored.width, stored.height) == (300, 400)
    image = decoded(stored)
    assert image.size == (300, 400)
    assert close_to(image.getpixel((150, 40)), RED, 8)
    assert close_to(image.getpixel((150, 350)), BLUE, 8)
    assert not image.getexif()
    assert "exif" not in image.info


def test_jpeg_metadata_is_not_carried_over():
    upload = encode(
        Image.new("RGB", (32, 32), GREEN),
        "JPEG",
        icc_profile=b"an ICC profile",
        xmp=b"<x:xmpmeta>creator</x:xmpmeta>",
        comment=b"shot on a phone",
    )
    assert {"icc_profile", "xmp", "comment"} <= Image.open(io.BytesIO(upload)).info.keys()

    info = decoded(intake(upload, LIMITS)).info

    assert not {"icc_profile", "xmp", "comment", "exif"} & info.keys()


def test_png_metadata_is_not_carried_over():
    image = Image.new("RGBA", (32, 32), (*GREEN, 255))
    image.paste((0, 0, 0, 0), (0, 0, 16, 32))
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "someone")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>creator</x:xmpmeta>")
    exif = Image.Exif()
    exif[ORIENTATION] = 1
    upload = encode(image, "PNG", pnginfo=text, icc_profile=b"an ICC profile", exif=exif)

    stored = intake(upload, LIMITS)

    assert stored.content_type == "image/png"
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"iCCP", b"eXIf"):
        assert chunk not in stored.data
    assert not decoded(stored).getexif()


def test_cmyk_becomes_rgb_of_the_same_colour():
    upload = encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG")  # Pure red in CMYK.

    image = decoded(intake(upload, LIMITS))

    assert image.mode == "RGB"
    assert close_to(image.getpixel((16, 16)), RED, 8)


def test_16_bit_grey_is_scaled_to_8_bits_not_clipped_to_white():
    upload = encode(Image.new("I;16", (32, 32), 32768), "PNG")
    assert Image.open(io.BytesIO(upload)).mode == "I;16"

    stored = intake(upload, LIMITS)

    assert stored.content_type == "image/jpeg"
    assert close_to(decoded(stored).getpixel((16, 16)), (128, 128, 128), 2)


def test_a_16_bit_grey_transparency_key_hides_exactly_that_value():
    image = Image.new("I;16", (32, 32), 32768)
    image.paste(Image.new("I;16", (16, 32), 1000))  # (Pasting the int 1000 into I;16 stores 59624.)
    image.putpixel((20, 0), 1001)  # Scaled, 1001 and 1000 are both 3: only the key may vanish.
    upload = encode(image, "PNG", transparency=1000)

    stored = intake(upload, LIMITS)

    assert stored.content_type == "image/png"
    alpha = decoded(stored).getchannel("A")
    assert (alpha.getpixel((8, 8)), alpha.getpixel((20, 0)), alpha.getpixel((24, 8))) == (0, 255, 255)


def test_a_palette_with_a_transparent_entry_is_stored_as_rgba_png():
    image = Image.new("P", (32, 32), 0)
    image.putpalette([*MAGENTA, *GREEN])
    image.paste(1, (16, 0, 32, 32))
    upload = encode(image, "PNG", transparency=0)

    stored = intake(upload, LIMITS)

    assert stored.content_type == "image/png"
    stored_image = decoded(stored)
    assert stored_image.mode == "RGBA"
    assert stored_image.getpixel((8, 8))[3] == 0
    assert stored_image.getpixel((24, 8)) == (*GREEN, 255)


def test_rgba_with_transparent_pixels_keeps_its_alpha_exactly():
    image = Image.new("RGBA", (32, 32), (*BLUE, 255))
    image.paste((*MAGENTA, 0), (0, 0, 16, 16))
    image.paste((*RED, 128), (16, 16, 32, 32))

    stored = intake(encode(image, "PNG"), LIMITS)

    assert stored.content_type == "image/png"
    stored_image = decoded(stored)
    assert stored_image.mode == "RGBA"
    assert stored_image.getpixel((8, 8))[3] == 0
    assert stored_image.getpixel((24, 24)) == (*RED, 128)
    assert stored_image.getpixel((24, 8)) == (*BLUE, 255)


@pytest.mark.parametrize(("mode", "colour"), [("LA", (0, 0)), ("RGBA", (*MAGENTA, 0))])
def test_transparency_survives_from_grey_alpha_and_lossless_webp(mode, colour):
    image = Image.new(mode, (32, 32))
    image.paste(colour, (0, 0, 16, 32))
    for image_format, options in (("PNG", {}), ("WEBP", {"lossless": True})):
        stored = intake(encode(image.convert(mode), image_format, **options), LIMITS)
        assert stored.content_type == "image/png"
        assert decoded(stored).getpixel((8, 8))[3] == 0


def test_an_alpha_channel_that_is_opaque_everywhere_is_stored_as_jpeg():
    stored = intake(encode(Image.new("RGBA", (32, 32), (*GREEN, 255)), "PNG"), LIMITS)

    assert stored.content_type == "image/jpeg"
    assert decoded(stored).mode == "RGB"


def test_greyscale_is_stored_as_rgb():
    stored = intake(encode(Image.new("L", (32, 32), 200), "JPEG"), LIMITS)

    image = decoded(stored)
    assert image.mode == "RGB"
    assert close_to(image.getpixel((16, 16)), (200, 200, 200), 2)


def test_a_multi_picture_jpeg_from_a_camera_stores_its_first_picture():
    upload = two_frames("MPO")

    stored = intake(upload, LIMITS)

    assert stored.content_type == "image/jpeg"
    assert close_to(decoded(stored).getpixel((16, 16)), RED, 8)


# Refused: too large, from the header alone


@pytest.mark.parametrize(
    ("width", "height", "named"),
    [
        (30_000, 30_000, "more pixels than can be decoded safely"),  # Pillow's DecompressionBombError.
        (10_000, 10_000, "10,000×10,000 px (100,000,000 pixels); at most 50,000,000 pixels"),  # past Pillow's warning
        (8_000, 8_000, "8,000×8,000 px (64,000,000 pixels); at most 50,000,000 pixels"),
        (13_000, 10, "13,000×10 px; a side may be at most 12,000 px"),
    ],
)
def test_too_many_pixels_or_too_long_a_side_is_refused_before_decoding(width, height, named):
    upload = png_declaring(width, height)
    assert len(upload) < 1024 * 1024

    with pytest.raises(MediaTooLarge) as refused:
        intake(upload, LIMITS)

    assert named in refused.value.message
    assert refused.value.detail["max_pixels"] == 50_000_000


def test_the_declared_size_is_in_the_detail():
    with pytest.raises(MediaTooLarge) as refused:
        intake(png_declaring(13_000, 10), LIMITS)

    assert refused.value.detail == {"width": 13_000, "height": 10, "max_pixels": 50_000_000, "max_side_px": 12_000}


# Refused: an accepted format that cannot be decoded whole


@pytest.mark.parametrize(
    "upload",
    [noise_jpeg(), encode(Image.effect_noise((256, 256), 64), "PNG")],
    ids=["JPEG", "PNG"],
)
def test_an_image_cut_in_half_is_refused_as_truncated(upload):
    with pytest.raises(MediaInvalid, match="truncated or corrupt and cannot be decoded"):
        intake(upload[: len(upload) // 2], LIMITS)


def test_a_broken_chunk_amid_the_pixel_data_is_refused_as_corrupt():
    upload = bytearray(encode(Image.effect_noise((256, 256), 64), "PNG"))  # Several IDAT chunks.
    second_idat = upload.find(b"IDAT", upload.find(b"IDAT") + 4)
    upload[second_idat : second_idat + 4] = b"\x00\x01\x02\x03"  # Pillow raises SyntaxError.

    with pytest.raises(MediaInvalid, match="truncated or corrupt and cannot be decoded"):
        intake(bytes(upload), LIMITS)


def png_with_short_ihdr() -> bytes:
    """IHDR with 5 of its 13 bytes and a correct CRC: Pillow raises ValueError, not OSError."""
    chunk = b"IHDR" + struct.pack(">IB", 8, 8)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))


@pytest.mark.parametrize(
    "upload",
    [encode(Image.new("RGB", (8, 8)), "PNG")[:20], png_with_short_ihdr()],
    ids=["cut short", "short IHDR"],
)
def test_a_broken_header_is_refused(upload):
    with pytest.raises(MediaInvalid, match="begins like a PNG image but its header cannot be read"):
        intake(upload, LIMITS)


@pytest.mark.parametrize(("image_format", "name"), [("WEBP", "WebP"), ("PNG", "PNG")])
def test_an_animated_image_is_refused(image_format, name):
    with pytest.raises(MediaInvalid, match=f"The {name} image is animated \\(2 frames\\)") as refused:
        intake(two_frames(image_format), LIMITS)

    assert "animated images are not supported: upload a single frame" in refused.value.message


# Refused: not PNG, JPEG or WebP, whatever the bytes claim to be called


@pytest.mark.parametrize(
    ("upload", "named"),
    [
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "XML (such as SVG)"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "an SVG"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "PostScript (EPS)"),
        (b"<!DOCTYPE html><html><body>not an image</body></html>", "HTML"),
        (encode(Image.new("RGB", (8, 8), RED), "GIF"), "a GIF"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF"),
        (b"", "empty"),
        (encode(Image.new("RGB", (8, 8), RED), "BMP"), "not a PNG, JPEG or WebP image"),
    ],
    ids=["SVG with XML declaration", "SVG", "EPS", "HTML", "GIF", "PDF", "empty", "BMP"],
)
def test_other_formats_are_refused_as_unsupported(upload, named):
    with pytest.raises(UnsupportedMediaType) as refused:
        intake(upload, LIMITS)

    assert named in refused.value.message
    assert refused.value.status_code == 415

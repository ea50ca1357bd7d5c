"""Fonts and audio files for the media tests, made in the test: PyAV encodes the audio, fontTools
builds the fonts, and the forged ones are their bytes patched where a header states a length,
a size or a count."""

import io
import struct
from collections.abc import Iterable

import av
import numpy as np
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen

from services.api.media.font_reader import KS_X_1001_HANGUL

CHANNELS = {"mono": 1, "stereo": 2, "3.0": 3}
ASCII = range(0x20, 0x7F)


def encoded_audio(
    container: str, codec: str, *, seconds: float = 1.0, rate: int = 48_000, layout: str = "stereo", silent: bool = False
) -> bytes:
    """`seconds` of a 440 Hz tone (or silence) in `codec` inside `container`, as a file's bytes."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        times = np.arange(int(rate * seconds)) / rate
        tone = np.zeros_like(times) if silent else np.sin(2 * np.pi * 440 * times) * 0.3
        frame = av.AudioFrame.from_ndarray(np.tile(tone.astype(np.float32), (CHANNELS[layout], 1)), format="fltp", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def mp4_with_video() -> bytes:
    """An MP4 (brand isom, like an M4A) carrying a second of picture beside its sound."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            picture = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 20, np.uint8), format="rgb24")
            out.mux(video.encode(picture.reformat(format="yuv420p")))
        out.mux(video.encode(None))
    return buffer.getvalue()


def wav_claiming(data_bytes: int) -> bytes:
    """An 8 kHz mono 8-bit WAV header whose data chunk declares `data_bytes` (8,000 a second),
    followed by a tenth of a second of sound."""
    fmt = struct.pack("<HHIIHH", 1, 1, 8_000, 8_000, 1, 8)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes & 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
        + b"\x80" * 800
    )


def flac_claiming(flac: bytes, samples: int) -> bytes:
    """`flac` with its STREAMINFO total-sample count (the low 36 bits of bytes 18-25) set to `samples`."""
    patched = bytearray(flac)
    packed = int.from_bytes(patched[18:26], "big")
    patched[18:26] = ((packed >> 36 << 36) | samples).to_bytes(8, "big")
    return bytes(patched)


def mp3_claiming(mp3: bytes, frames: int) -> bytes:
    """`mp3` with the frame count of its LAME Info (or Xing) tag set to `frames`."""
    tag = max(mp3.find(b"Info"), mp3.find(b"Xing"))
    return mp3[: tag + 8] + struct.pack(">I", frames) + mp3[tag + 12 :]


def _square(pen) -> None:
    """A solid 0.7 em square on the baseline: text in a built font shows as filled boxes, which
    no other font draws."""
    pen.moveTo((100, 0))
    pen.lineTo((100, 700))
    pen.lineTo((800, 700))
    pen.lineTo((800, 0))
    pen.closePath()


def _square_glyph():
    # A pen hands its outline to one glyph and starts empty again: each glyph draws its own.
    pen = TTGlyphPen(None)
    _square(pen)
    return pen.glyph()


def built_font(family: str, characters: Iterable[int], *, cff: bool = False) -> bytes:
    """A font named `family` drawing every one of the code points `characters` as one square: TrueType outlines,
    or CFF ones (an OTF) when `cff`."""
    glyphs = [".notdef", "square"]
    builder = FontBuilder(1000, isTTF=not cff)
    builder.setupGlyphOrder(glyphs)
    builder.setupCharacterMap(dict.fromkeys(characters, "square"))
    if cff:
        pen = T2CharStringPen(900, None)
        _square(pen)
        builder.setupCFF(family, {"FullName": family}, {name: pen.getCharString() for name in glyphs}, {})
    else:
        builder.setupGlyf({name: _square_glyph() for name in glyphs})
    builder.setupHorizontalMetrics(dict.fromkeys(glyphs, (900, 100)))
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    buffer = io.BytesIO()
    builder.save(buffer)
    return buffer.getvalue()


def hangul_font() -> bytes:
    return built_font("Test Hangul", [*ASCII, *KS_X_1001_HANGUL])


def latin_font() -> bytes:
    return built_font("Test Latin", ASCII)


def table_record_offset(font: bytes, tag: bytes) -> int:
    """Where the table directory's record of `tag` starts."""
    (count,) = struct.unpack_from(">H", font, 4)
    for index in range(count):
        position = 12 + 16 * index
        if font[position : position + 4] == tag:
            return position
    raise KeyError(tag)


def with_table_length(font: bytes, tag: bytes, length: int) -> bytes:
    position = table_record_offset(font, tag)
    return font[: position + 12] + struct.pack(">I", length) + font[position + 16 :]


def with_table_count(font: bytes, count: int) -> bytes:
    return font[:4] + struct.pack(">H", count) + font[6:]


def with_table_renamed(font: bytes, tag: bytes, new_tag: bytes) -> bytes:
    position = table_record_offset(font, tag)
    return font[:position] + new_tag + font[position + 4 :]


def with_table_scrambled(font: bytes, tag: bytes) -> bytes:
    """The table's bytes all 0xFF, its directory record untouched."""
    position = table_record_offset(font, tag)
    offset, length = struct.unpack_from(">II", font, position + 8)
    return font[:offset] + b"\xff" * length + font[offset + length :]

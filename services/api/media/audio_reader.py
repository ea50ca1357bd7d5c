"""Reads an uploaded audio file in the reader process (probe.py): the header is checked first
(codec, sample rate, channels, the length it claims), then the whole file is decoded, because
a header can lie. Decoding stops as soon as the sound decoded so far passes the limit, so a
small file that decodes to hours (FLAC or Opus silence takes a few bytes a second) costs at
most the limit's worth of decoding.
"""

import io
import struct
from typing import Any

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition

from services.api.errors import MediaInvalid, MediaTooLarge, UnsupportedMediaType
from services.api.media.audio import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, WAV, AudioFormat, clock
from services.api.media.facts import AudioFacts

TRUNCATION_TOLERANCE_SEC = 0.1
"""Decoders trim encoder delay and padding, so a whole file may decode a few milliseconds short
of its stated length; a cut one falls short by more."""
MAX_WAV_CHUNKS = 1_000
"""Chunks before `data` that are walked to find it; real WAVs have a handful (fmt, LIST, fact)."""


def read_audio(data: bytes, audio_format: AudioFormat, max_sec: float) -> AudioFacts:
    try:
        container = av.open(io.BytesIO(data), mode="r", format=audio_format.demuxer)
    except av.FFmpegError as error:
        raise MediaInvalid(
            f"The upload begins like {audio_format.name} audio but its header cannot be read: it is corrupt or truncated.",
            reason="header",
            decoder=str(error),
        ) from error
    with container:
        stream = _the_audio_stream(container, audio_format)
        codec = stream.codec_context.codec.canonical_name
        if codec not in audio_format.codecs:
            accepted = " or ".join(audio_format.codecs)
            raise UnsupportedMediaType(
                f"The {audio_format.name} file holds {codec} audio; {audio_format.name} is accepted with {accepted} only.",
                codec=codec,
            )
        _check_layout(audio_format, stream.codec_context.sample_rate, stream.codec_context.channels)
        claimed = _wav_claimed_sec(data) if audio_format is WAV else _claimed_sec(container, stream)
        if claimed is not None and claimed > max_sec:
            raise MediaTooLarge(
                f"The {audio_format.name} audio claims {clock(claimed)}; "
                f"at most {clock(max_sec)} is accepted (MEDIA_MAX_AUDIO_SEC).",
                claimed_sec=round(claimed, 3),
                max_sec=max_sec,
            )
        decoded = _decoded_sec(container, stream, audio_format, max_sec, claimed)
        return AudioFacts(
            duration_sec=round(decoded, 3),
            sample_rate=stream.codec_context.sample_rate,
            channels=stream.codec_context.channels,
            codec=codec,
        )


def _the_audio_stream(container: InputContainer, audio_format: AudioFormat) -> AudioStream:
    moving_pictures = [
        stream for stream in container.streams.video if not stream.disposition & Disposition.attached_pic
    ]  # cover art (an MP3's ID3 picture, a FLAC's PICTURE block) comes as a one-picture video stream
    if moving_pictures:
        raise MediaInvalid(
            f"The {audio_format.name} file has a video track; upload its sound alone (e.g. as M4A).", reason="video"
        )
    streams = container.streams.audio
    if len(streams) != 1:
        raise MediaInvalid(
            f"The {audio_format.name} file has {len(streams)} audio streams; exactly one is accepted.",
            reason="streams",
            streams=len(streams),
        )
    return streams[0]


def _check_layout(audio_format: AudioFormat, sample_rate: int, channels: int) -> None:
    detail: dict[str, Any] = {"sample_rate": sample_rate, "channels": channels}
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise MediaInvalid(
            f"The {audio_format.name} audio is sampled at {sample_rate:,} Hz; "
            f"{MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz is accepted.",
            reason="sample_rate",
            **detail,
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise MediaInvalid(
            f"The {audio_format.name} stream has {channels} channels; at most {MAX_CHANNELS} (mono or stereo) are accepted.",
            reason="channels",
            **detail,
        )


def _claimed_sec(container: InputContainer, stream: AudioStream) -> float | None:
    """The length the container's header gives, as FFmpeg read it: FLAC's sample count, MP4's
    mdhd, an MP3's Xing frame count (else its bitrate over its size), an Ogg's last granule."""
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _wav_claimed_sec(data: bytes) -> float | None:
    """The data chunk's declared size over the byte rate of `fmt `. Read here rather than taken
    from FFmpeg, which shortens a claim past the end of the file to what is there and so would
    hide a header that claims hours. None when the writer left the size open (0 or 0xFFFFFFFF,
    as streaming writers do): decoding then tells."""
    position, byte_rate = 12, 0
    for _ in range(MAX_WAV_CHUNKS):
        if position + 8 > len(data):
            break
        chunk, size = struct.unpack_from("<4sI", data, position)
        if chunk == b"fmt " and size >= 16:
            # fmt: format tag (2), channels (2), sample rate (4), then the byte rate (4).
            (byte_rate,) = struct.unpack_from("<I", data, position + 16)
        if chunk == b"data":
            return None if size in (0, 0xFFFFFFFF) or byte_rate == 0 else size / byte_rate
        position += 8 + size + (size & 1)
    raise MediaInvalid("The WAV file has no data chunk where its header says: it is corrupt or truncated.", reason="header")


def _decoded_sec(
    container: InputContainer, stream: AudioStream, audio_format: AudioFormat, max_sec: float, claimed: float | None
) -> float:
    decoded = 0.0
    try:
        for frame in container.decode(stream):
            # A stream may change its layout midway (MP3 frames, chained Ogg streams): each frame
            # is held to the same limits as the header.
            _check_layout(audio_format, frame.sample_rate, len(frame.layout.channels))
            decoded += frame.samples / frame.sample_rate
            if decoded > max_sec:
                claim = "its header claims no length" if claimed is None else f"its header claims {clock(claimed)}"
                raise MediaTooLarge(
                    f"The {audio_format.name} audio decodes to more than {clock(max_sec)} ({claim}); "
                    f"at most {clock(max_sec)} is accepted (MEDIA_MAX_AUDIO_SEC).",
                    claimed_sec=None if claimed is None else round(claimed, 3),
                    max_sec=max_sec,
                )
    except av.FFmpegError as error:
        raise MediaInvalid(
            f"The {audio_format.name} audio is truncated or corrupt and cannot be decoded.", reason="corrupt", decoder=str(error)
        ) from error
    if decoded == 0:
        raise MediaInvalid(f"The {audio_format.name} file holds no sound to decode.", reason="empty")
    if audio_format.exact_length and claimed is not None and decoded < claimed - TRUNCATION_TOLERANCE_SEC:
        raise MediaInvalid(
            f"The {audio_format.name} audio is truncated: its header claims {clock(claimed)}, "
            f"but only {decoded:.1f} s of it is there.",
            reason="truncated",
            claimed_sec=round(claimed, 3),
            decoded_sec=round(decoded, 3),
        )
    return decoded

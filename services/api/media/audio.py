"""Uploaded audio (a music bed, SPEC §8.3): which containers are taken, told by their bytes, and
what is stored. The bytes are stored as uploaded; reading them (header checks, then a full
decode) happens in a reader process (audio_reader.py through sandbox.py)."""

from dataclasses import dataclass

from services.api.media.facts import AudioFacts
from services.api.media.identity import identity_of
from services.api.media.sandbox import Sandbox


@dataclass(frozen=True)
class AudioFormat:
    name: str
    """As a message names it."""
    content_type: str
    demuxer: str
    """FFmpeg's: the only one that is ever handed the bytes (no probing into other formats)."""
    codecs: tuple[str, ...]
    """FFmpeg's canonical names of the codecs accepted inside this container."""
    exact_length: bool
    """The header states the length exactly (WAV's data size, FLAC's sample count, MP4's
    mdhd), so decoding less than it states means the file is cut short. An MP3's length is
    estimated from its bitrate and an Ogg's read from its last page, so neither can show that."""


WAV = AudioFormat(
    "WAV",
    "audio/wav",
    "wav",
    ("pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le", "pcm_alaw", "pcm_mulaw"),
    exact_length=True,
)
MP3 = AudioFormat("MP3", "audio/mpeg", "mp3", ("mp3",), exact_length=False)
M4A = AudioFormat("M4A", "audio/mp4", "mp4", ("aac",), exact_length=True)
OGG = AudioFormat("Ogg", "audio/ogg", "ogg", ("opus", "vorbis"), exact_length=False)
FLAC = AudioFormat("FLAC", "audio/flac", "flac", ("flac",), exact_length=True)
AUDIO_FORMATS = {audio_format.name: audio_format for audio_format in (WAV, MP3, M4A, OGG, FLAC)}

MP4_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"dash")
"""Major brands of an MP4 file that may hold audio alone. Video-only brands (QuickTime's `qt  `,
3GP) are not audio uploads; an MP4 of these brands with a video track is refused on reading."""

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 192_000
"""Telephone quality to high-resolution studio masters; outside that is no music bed."""
MAX_CHANNELS = 2
"""The video's sound is stereo: a surround bed would be folded down to two channels unheard,
so it is refused with a message asking for a stereo mix instead."""


@dataclass(frozen=True)
class AudioLimits:
    max_sec: float
    """The longest duration accepted (MEDIA_MAX_AUDIO_SEC): from the header, then while decoding."""


@dataclass(frozen=True)
class StoredAudio:
    data: bytes
    """As uploaded: audio is not re-encoded (a second lossy generation for nothing)."""
    content_type: str
    facts: AudioFacts
    sha256: str
    media_id: str


def audio_format_of(data: bytes) -> AudioFormat | None:
    """The container the bytes declare, or None when they declare none of the accepted five."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return WAV
    if data.startswith(b"ID3") or _is_mpeg_audio_frame(data):
        return MP3
    if data[4:8] == b"ftyp" and data[8:12] in MP4_AUDIO_BRANDS:
        return M4A
    if data.startswith(b"OggS"):
        return OGG
    if data.startswith(b"fLaC"):
        return FLAC
    return None


def _is_mpeg_audio_frame(data: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then a layer other than `00` (reserved; ADTS AAC
    uses it). A JPEG's FF D8 has no such sync."""
    return len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06 != 0


def clock(seconds: float) -> str:
    """1800 → "30:00", 36000 → "10:00:00", as a player shows a length."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, whole_seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{whole_seconds:02}" if hours else f"{minutes}:{whole_seconds:02}"


async def intake_audio(data: bytes, audio_format: AudioFormat, limits: AudioLimits, sandbox: Sandbox) -> StoredAudio:
    """The audio to store for these bytes; raises the reader's refusal."""
    facts = await sandbox.read("audio", data, AudioFacts, f"--format={audio_format.name}", f"--max-sec={limits.max_sec:g}")
    sha256, media_id = identity_of(data)
    return StoredAudio(data=data, content_type=audio_format.content_type, facts=facts, sha256=sha256, media_id=media_id)

"""The three kinds of media a video may hold (SPEC §8.3), told apart by the upload's bytes, each
read by its own intake and held to its own limits."""

import asyncio

from services.api.media.audio import AudioLimits, StoredAudio, audio_format_of, intake_audio
from services.api.media.fonts import StoredFont, intake_font, is_font
from services.api.media.intake import MediaLimits, StoredImage, intake
from services.api.media.sandbox import Sandbox
from services.api.settings import Settings
from services.api.uploads import BodyLimit, too_large

StoredMedia = StoredImage | StoredFont | StoredAudio


def largest_upload(settings: Settings) -> BodyLimit:
    """What the media route may read at all: the larger of the image-and-font and audio limits.
    Each kind is then held to its own (MediaIntake)."""
    return max(
        BodyLimit(settings.media_max_bytes, "MEDIA_MAX_BYTES"),
        BodyLimit(settings.media_max_audio_bytes, "MEDIA_MAX_AUDIO_BYTES"),
        key=lambda limit: limit.max_bytes,
    )


class MediaIntake:
    def __init__(self, settings: Settings) -> None:
        self._image_limits = MediaLimits(
            max_bytes=settings.media_max_bytes, max_pixels=settings.media_max_pixels, max_side_px=settings.media_max_side_px
        )
        self._file_limit = BodyLimit(settings.media_max_bytes, "MEDIA_MAX_BYTES")
        self._audio_limit = BodyLimit(settings.media_max_audio_bytes, "MEDIA_MAX_AUDIO_BYTES")
        self._audio_limits = AudioLimits(max_sec=settings.media_max_audio_sec)
        self._sandbox = Sandbox(timeout_sec=settings.media_check_timeout_sec, max_concurrent=settings.media_max_concurrent_checks)

    async def accept(self, data: bytes) -> StoredMedia:
        """What to store for the upload. Raises PayloadTooLarge over its kind's byte limit, else
        the refusal of its kind's intake (anything neither a font nor audio goes to the image
        intake, which names what it is not)."""
        audio_format = audio_format_of(data)
        if audio_format is not None:
            self._within(data, self._audio_limit)
            return await intake_audio(data, audio_format, self._audio_limits, self._sandbox)
        self._within(data, self._file_limit)
        if is_font(data):
            return await intake_font(data, self._sandbox)
        # Decoding a large picture takes a good part of a second: not on the event loop.
        return await asyncio.to_thread(intake, data, self._image_limits)

    @staticmethod
    def _within(data: bytes, limit: BodyLimit) -> None:
        if len(data) > limit.max_bytes:
            raise too_large(len(data), limit)

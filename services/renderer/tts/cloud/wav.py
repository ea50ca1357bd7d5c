"""Reads the WAV a provider answers, keeping its sample rate."""

import io
import wave

from services.renderer.tts.base import SAMPLE_WIDTH, ProviderError


def decode_wav(data: bytes, provider: str) -> tuple[bytes, int]:
    """(16-bit mono PCM, its sample rate) from a RIFF/WAVE file; anything else, including a
    truncated or garbled answer, is a ProviderError `bad_audio` rather than a crash later in the mix."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            pcm = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, ValueError) as error:
        raise ProviderError(
            f"{provider} answered audio that is not a WAV file ({len(data)} bytes: {error})", kind="bad_audio", retryable=True
        ) from error
    if channels != 1 or width != SAMPLE_WIDTH or rate <= 0:
        raise ProviderError(
            f"{provider} answered {channels}-channel {8 * width}-bit audio at {rate} Hz, not 16-bit mono",
            kind="bad_audio",
            retryable=True,
        )
    return pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH], rate

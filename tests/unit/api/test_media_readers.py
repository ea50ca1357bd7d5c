"""The font and audio readers' process (media/sandbox.py, media/probe.py): facts back from a real
child process, its refusals raised again in the API's, and a reader past its deadline killed
and the upload refused. The bad-file table runs through the real API
(tests/integration/test_media_fonts_audio.py)."""

import pytest

from services.api.errors import MediaInvalid, MediaTooLarge
from services.api.media.audio import WAV, AudioLimits, audio_format_of, clock, intake_audio
from services.api.media.facts import FontFacts
from services.api.media.fonts import check_table_directory, intake_font
from services.api.media.sandbox import Sandbox
from tests.media_uploads import encoded_audio, hangul_font, latin_font, wav_claiming, with_table_count

pytestmark = pytest.mark.anyio


async def test_a_font_is_read_in_a_child_process():
    font = hangul_font()

    stored = await intake_font(font, Sandbox(timeout_sec=30, max_concurrent=1))

    assert stored.facts == FontFacts(family="Test Hangul", covers_hangul=True)
    assert stored.content_type == "font/ttf" and stored.data == font


async def test_a_refusal_in_the_child_is_raised_again_with_its_detail():
    data = wav_claiming(3_600 * 8_000)
    assert audio_format_of(data) is WAV

    with pytest.raises(MediaTooLarge, match="claims 1:00:00; at most 30:00") as refused:
        await intake_audio(data, WAV, AudioLimits(max_sec=1800), Sandbox(timeout_sec=30, max_concurrent=1))

    assert refused.value.detail == {"claimed_sec": 3600.0, "max_sec": 1800.0}


async def test_a_reader_past_its_deadline_is_killed_and_the_upload_refused():
    slow = Sandbox(timeout_sec=0.01, max_concurrent=1)  # less than the child takes to start

    with pytest.raises(MediaInvalid, match=r"took longer than 0\.01 s") as refused:
        await intake_audio(encoded_audio("wav", "pcm_s16le"), WAV, AudioLimits(max_sec=1800), slow)

    assert refused.value.detail == {"reason": "timeout"}


def test_a_directory_of_more_tables_than_any_font_has_is_refused_before_reading():
    with pytest.raises(MediaTooLarge, match="lists 65,535 tables; at most 100"):
        check_table_directory(with_table_count(latin_font(), 65_535))


@pytest.mark.parametrize(("seconds", "shown"), [(5, "0:05"), (1800, "30:00"), (36_000, "10:00:00"), (3599.6, "1:00:00")])
def test_lengths_read_as_a_player_shows_them(seconds, shown):
    assert clock(seconds) == shown

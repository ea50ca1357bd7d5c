"""The TTL sweep removes uploaded media past the TTL that no script of its video names, with its
file; a named one (a slide's image, a script's music) and a young one stay (real database,
real local store)."""

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import update

from libs.contracts.script import Music, Scene, Script, Slide
from libs.storage import MEDIA_FILE, media_key
from libs.storage.local import LocalFolderStore
from services.api.db.models import MediaRow, utc_now
from services.api.media.audio import StoredAudio
from services.api.media.facts import AudioFacts
from services.api.media.identity import identity_of
from services.api.media.intake import MediaLimits, intake
from services.api.media.store import MediaStore
from services.api.ops.retention import expire_media
from services.api.scripts.store import ScriptStore

pytestmark = pytest.mark.anyio
TTL = timedelta(days=30)
LIMITS = MediaLimits(max_bytes=25 * 1024 * 1024, max_pixels=50_000_000, max_side_px=12_000)


def image_of(colour: tuple[int, int, int]):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    return intake(buffer.getvalue(), LIMITS)


def audio_of(data: bytes) -> StoredAudio:
    """Audio as the intake would hand it over; the sweep looks at rows, not at sound."""
    sha256, media_id = identity_of(data)
    facts = AudioFacts(duration_sec=1.0, sample_rate=48_000, channels=2, codec="opus")
    return StoredAudio(data=data, content_type="audio/ogg", facts=facts, sha256=sha256, media_id=media_id)


async def age(db, *media_ids: str) -> None:
    async with db.write_session() as session, session.begin():
        await session.execute(
            update(MediaRow).where(MediaRow.media_id.in_(media_ids)).values(created_at=utc_now() - TTL - timedelta(days=1))
        )


async def test_only_old_images_no_script_names_are_swept(db, tmp_path):
    store = LocalFolderStore(tmp_path / "assets")
    media = MediaStore(db, store)
    named, unnamed, young = (image_of(colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255)))
    for image in (named, unnamed, young):
        await media.add("v", image, "tester")
    await ScriptStore(db).put(
        "v", "s", Script(title="t", scenes=[Scene(narration="사진", slide=Slide(image=named.media_id))]), "tester"
    )
    await age(db, named.media_id, unnamed.media_id)

    assert await expire_media(db, store, TTL) == [("v", unnamed.media_id)]
    assert not (tmp_path / "assets" / media_key("v", unnamed.media_id) / MEDIA_FILE).exists()
    for kept in (named, young):
        assert (await media.get("v", kept.media_id)).media_id == kept.media_id
        assert (tmp_path / "assets" / media_key("v", kept.media_id) / MEDIA_FILE).exists()


async def test_old_audio_a_script_names_as_its_music_is_kept(db, tmp_path):
    store = LocalFolderStore(tmp_path / "assets")
    media = MediaStore(db, store)
    music, unnamed = audio_of(b"OggS music"), audio_of(b"OggS other")
    for audio in (music, unnamed):
        await media.add("v", audio, "tester")
    script = Script(title="t", scenes=[Scene(narration="음악")], music=Music(media=music.media_id))
    await ScriptStore(db).put("v", "s", script, "tester")
    await age(db, music.media_id, unnamed.media_id)

    assert await expire_media(db, store, TTL) == [("v", unnamed.media_id)]
    kept = await media.get("v", music.media_id)
    assert (kept.kind, kept.codec, kept.width) == ("audio", "opus", None)
    assert (tmp_path / "assets" / media_key("v", music.media_id) / MEDIA_FILE).read_bytes() == b"OggS music"

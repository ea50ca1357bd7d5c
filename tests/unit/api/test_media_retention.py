"""The TTL sweep removes an uploaded image past the TTL that no script of its video names,
with its file; a named one and a young one stay (real database, real local store)."""

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import update

from libs.contracts.script import Scene, Script, Slide
from libs.storage import MEDIA_FILE, media_key
from libs.storage.local import LocalFolderStore
from services.api.db.models import MediaRow, utc_now
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


async def test_only_old_images_no_script_names_are_swept(db, tmp_path):
    store = LocalFolderStore(tmp_path / "assets")
    media = MediaStore(db, store)
    named, unnamed, young = (image_of(colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255)))
    for image in (named, unnamed, young):
        await media.add("v", image, "tester")
    await ScriptStore(db).put(
        "v", "s", Script(title="t", scenes=[Scene(narration="사진", slide=Slide(image=named.media_id))]), "tester"
    )
    async with db.write_session() as session, session.begin():
        await session.execute(
            update(MediaRow)
            .where(MediaRow.media_id.in_([named.media_id, unnamed.media_id]))
            .values(created_at=utc_now() - TTL - timedelta(days=1))
        )

    assert await expire_media(db, store, TTL) == [("v", unnamed.media_id)]
    assert not (tmp_path / "assets" / media_key("v", unnamed.media_id) / MEDIA_FILE).exists()
    for kept in (named, young):
        assert (await media.get("v", kept.media_id)).media_id == kept.media_id
        assert (tmp_path / "assets" / media_key("v", kept.media_id) / MEDIA_FILE).exists()

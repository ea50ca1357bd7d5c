"""The TTL sweep removes deck import rows untouched for the TTL, and only those (real database)."""

from datetime import timedelta

import pytest

from services.api.db.models import DeckImportRow, utc_now
from services.api.decks.records import DeckImports, ImportStatus
from services.api.ops.retention import expire_deck_imports

pytestmark = pytest.mark.anyio
TTL = timedelta(days=30)


def import_row(import_id: str, age: timedelta) -> DeckImportRow:
    at = utc_now() - age
    return DeckImportRow(
        video_id="v",
        import_id=import_id,
        run_id=import_id,
        source="pdf",
        status=ImportStatus.SUCCEEDED.value,
        pages=1,
        pages_done=1,
        message="Imported",
        created_by="tester",
        created_at=at,
        updated_at=at,
    )


async def test_only_imports_untouched_for_the_ttl_are_swept(db):
    imports = DeckImports(db)
    for row in (import_row("deck-old", TTL + timedelta(days=1)), import_row("deck-young", TTL - timedelta(days=1))):
        assert await imports.begin(row, None)

    assert await expire_deck_imports(db, TTL) == ["v/deck-old"]
    assert await imports.find("v", "deck-old") is None
    assert (await imports.get("v", "deck-young")).status == "SUCCEEDED"

"""Migration 0011 (fonts and audio beside images): media rows uploaded before it are images,
keeping their size; the downgrade leaves the images (SQLite, batch mode)."""

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from services.api.db.migrate import MIGRATIONS_DIR

IMAGE_ROW = (
    "INSERT INTO media (video_id, media_id, sha256, content_type, width, height, bytes, created_by, created_at) "
    "VALUES ('v', 'med-1', 'ab', 'image/png', 640, 480, 1000, 'tester', '2026-01-01 00:00:00')"
)


def test_media_uploaded_before_fonts_and_audio_are_images(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, "0010")
        connection.execute(text(IMAGE_ROW))

        command.upgrade(config, "0011")
        assert connection.execute(text("SELECT kind, width, height, duration_sec, family FROM media")).one() == (
            "image",
            640,
            480,
            None,
            None,
        )
        connection.execute(
            text(
                "INSERT INTO media (video_id, media_id, kind, sha256, content_type, family, covers_hangul, bytes, "
                "created_by, created_at) VALUES ('v', 'med-2', 'font', 'cd', 'font/ttf', 'Test', 1, 900, 'tester', "
                "'2026-01-01 00:00:00')"
            )
        )

        command.downgrade(config, "0010")
        assert connection.execute(text("SELECT media_id, width FROM media")).all() == [("med-1", 640)]

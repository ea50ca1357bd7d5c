"""The console plays and seeks a video kept in the S3 object store: the API streams its byte
ranges from the store under its own /assets URLs, so Chromium sees the same origin, headers
and 206 answers as with the local folder."""

from pathlib import Path

from playwright.sync_api import Browser, expect

from services.api.auth.roles import Role
from tests.browser.conftest import open_console
from tests.browser.test_console_origins import rendered_video
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.stack import Stack


def test_the_console_plays_and_seeks_a_video_kept_in_the_object_store(browser: Browser, s3_stack: Stack, artifacts: Path):
    video_id, finished = rendered_video(s3_stack, "console-s3")
    with open_console(browser, s3_stack, f"{s3_stack.base_url}/", artifacts / "s3") as console:
        console.use_token(Role.VIEWER)
        console.open_video(video_id)
        expect(console.page.locator("#player")).to_have_attribute("src", finished["assets"]["video_url"])
        cues = console.check_playback(finished["assets"]["duration_sec"])
        assert SHORT_SCRIPT["scenes"][0]["narration"].startswith(cues[0]), cues
        console.shot("played-from-the-object-store")

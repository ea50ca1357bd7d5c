"""Signed asset URLs through the real API and renderer: with ASSET_SIGNING_KEY set, the URLs a
job publishes carry an expiring signature that the asset route demands (SPEC §2 Assets)."""

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.api.assets.signing import signed_query
from tests.client import approved_script, follow, new_video_id, start_render
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.stack import Stack

SIGNING_KEY = "integration-asset-key"
URL_KEYS = ("video_url", "subtitle_url", "vtt_url", "thumbnail_url")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One signing stack (small frames, one worker: only the URLs matter here) and one rendered job."""
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("signed-stack"),
        workers=1,
        extra_env={"ASSET_SIGNING_KEY": SIGNING_KEY, "RENDER_RESOLUTION": "320x180"},
    )
    with stack.running(), stack.client(timeout=30) as http:
        video_id = new_video_id("signed")
        created = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))
        follow(stack, video_id, f"?job_id={created['job_id']}&last_seq=0")
        job = http.get(f"/api/v2/videos/{video_id}/render-jobs/{created['job_id']}").json()
        published = http.get(f"/api/v2/videos/{video_id}/assets/published").json()
        yield {"job": job, "published": published}


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """No bearer token, like a <video src>."""
    with httpx.Client(timeout=30) as client:
        yield client


def test_job_and_published_urls_are_signed_and_served(rendered: dict, browser: httpx.Client) -> None:
    job, published = rendered["job"], rendered["published"]
    assert job["status"] == "SUCCEEDED", job
    assert published["published"] is True and published["job_id"] == job["job_id"]

    for url in [job["assets"][key] for key in URL_KEYS] + [published[key] for key in URL_KEYS]:
        assert set(parse_qs(urlsplit(url).query)) == {"expires", "sig"}, url
        assert browser.get(url).status_code == 200, url
    seek = browser.get(job["assets"]["video_url"], headers={"Range": "bytes=100-199"})
    assert seek.status_code == 206 and len(seek.content) == 100


def test_unsigned_expired_or_tampered_urls_are_forbidden(rendered: dict, browser: httpx.Client) -> None:
    video_url = rendered["job"]["assets"]["video_url"]
    bare_url, _, query = video_url.partition("?")
    asset_path = urlsplit(bare_url).path.removeprefix("/assets/")
    sig = parse_qs(query)["sig"][0]
    refused = {
        "unsigned": bare_url,
        "old expires": f"{bare_url}?expires={int(time.time()) - 60}&sig={sig}",
        "signed but expired": f"{bare_url}?{signed_query(SIGNING_KEY, 60, asset_path, now=time.time() - 120)}",
        "tampered file name": video_url.replace("/video.mp4?", "/subtitles.srt?"),
    }

    for case, url in refused.items():
        response = browser.get(url, headers={"Range": "bytes=0-99"})
        assert response.status_code == 403, case
        assert response.json()["error_code"] == "FORBIDDEN", case

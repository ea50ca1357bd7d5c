"""The console's files are served at `/` without a token, under a policy that lets the page
load only its own script, style and font (no inline code), talk only to its own origin and
play assets from where asset URLs point; assets answer CORS to the origins allowed to read them."""

import io
import re
from urllib.parse import urlsplit

import httpx
from fontTools.ttLib import TTFont

from services.api.console.router import STATIC_DIR
from services.api.console.webfont import RANGES
from services.api.security.headers import API_CONTENT_SECURITY_POLICY
from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.integration.test_render_jobs_api import SHORT_SCRIPT


def test_the_console_page_is_open_and_strictly_confined(stack):
    page = httpx.get(f"{stack.base_url}/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == policy["font-src"] == "'self'"
    # Asset URLs are built from PUBLIC_BASE_URL: the page may be opened at any other origin.
    # Images and voice previews are fetched with the token and shown or played as blob: URLs
    # (an <img> or <audio> cannot send one).
    assert policy["media-src"] == f"'self' {stack.base_url} blob:"
    assert policy["img-src"] == f"'self' {stack.base_url} blob:"
    assert "unsafe" not in page.headers["content-security-policy"]

    script = httpx.get(f"{stack.base_url}/app.js", timeout=30)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY


def test_head_of_the_page_answers_as_get_does_without_the_body(stack):
    page = httpx.get(f"{stack.base_url}/", timeout=30)
    probe = httpx.head(f"{stack.base_url}/", timeout=30)
    assert probe.status_code == page.status_code == 200 and probe.content == b""
    assert probe.headers["content-type"].startswith("text/html") and "content-security-policy" in probe.headers
    assert {**probe.headers, "date": ""} == {**page.headers, "date": ""}


def test_paths_outside_the_console_are_not_served_from_its_folder(stack):
    for path in ("/router.py", "/__init__.py", "/../router.py", "/api/v2/nothing-here"):
        response = httpx.get(f"{stack.base_url}{path}", timeout=30)
        assert response.status_code == 404, path
        assert response.json()["error_code"] == "NOT_FOUND"


def test_assets_answer_cors_to_this_host_under_another_name_and_to_no_one_else(stack):
    with stack.client(timeout=30) as http:
        video_id = new_video_id("cors")
        job_id = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))["job_id"]
        finished = wait_terminal(http, video_id, job_id)
    assert finished["status"] == "SUCCEEDED", finished
    assets = finished["assets"]
    port = urlsplit(stack.base_url).port
    for origin, allowed in [
        (stack.base_url, True),  # the origin of PUBLIC_BASE_URL itself
        (f"http://localhost:{port}", True),  # the same server by another name of this host
        (f"http://localhost:{port + 1}", False),  # another server of this host
        ("http://evil.example", False),
        ("http://192.0.2.1:80", False),  # an address this host does not hold
    ]:
        for url in (assets["video_url"], assets["vtt_url"]):
            response = httpx.get(url, headers={"Origin": origin, "Range": "bytes=0-99"}, timeout=30)
            assert response.status_code in (200, 206), (url, response.status_code)
            assert response.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None), (url, origin)
            assert "origin" in response.headers["Vary"].lower()


def test_the_web_font_has_every_hangul_syllable_and_the_page_asks_for_exactly_its_ranges(stack):
    response = httpx.get(f"{stack.base_url}/fonts/hangul.woff2", timeout=120)
    assert response.status_code == 200 and response.headers["content-type"] == "font/woff2"
    assert response.content[:4] == b"wOF2"
    cmap = TTFont(io.BytesIO(response.content)).getBestCmap()
    assert all(code in cmap for code in range(0xAC00, 0xD7A4))
    assert ord("A") in cmap and ord("漢") not in cmap

    css = (STATIC_DIR / "style.css").read_text(encoding="utf-8")
    declared = re.search(r"unicode-range:([^;]+);", css).group(1)
    ranges = [tuple(int(bound, 16) for bound in part.strip().removeprefix("U+").split("-")) for part in declared.split(",")]
    assert ranges == list(RANGES)

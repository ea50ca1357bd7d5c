"""The console's files are served at `/` without a token, under a policy that lets the page
load only its own script and style (no inline code) and talk only to its own origin."""

import httpx

from services.api.security.headers import API_CONTENT_SECURITY_POLICY


def test_the_console_page_is_open_and_strictly_confined(stack):
    page = httpx.get(f"{stack.base_url}/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == policy["media-src"] == "'self'"
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

"""The console wherever it is opened and wherever assets live, in any browser's fonts, and for
any role: a CDN origin for the assets, Hangul from the console's own web font, and buttons a
token's role cannot use disabled with the reason shown."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from services.api.auth.roles import Role
from tests.browser.conftest import open_console
from tests.browser.console import RENDER_TIMEOUT_MS, Console
from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.stack import Stack

KOREAN_TITLE = "한글 제목이 보이는 영상"
GLYPHS_OF_THE_TITLE = """async (selector) => {
    await document.fonts.ready;
    const faces = [...document.fonts].filter((face) => face.family.replace(/"/g, "") === "Slidereel Hangul");
    return {faces: faces.map((face) => face.status), title: document.querySelector(selector).textContent};
}"""


@pytest.fixture(scope="module")
def cdn_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose asset URLs point at `assets.test` (a CDN in front of the same API, mapped to
    127.0.0.1 in the browser), with the console's origin allowed to read them."""
    stack = Stack(data_dir=tmp_path_factory.mktemp("cdn-stack"), workers=1)
    stack.extra_env.update(
        {
            "PUBLIC_BASE_URL": f"http://assets.test:{stack.port}",
            "CORS_ALLOWED_ORIGINS": stack.base_url,
        }
    )
    with stack.running() as running:
        yield running


def rendered_video(stack: Stack, prefix: str, script: dict = SHORT_SCRIPT) -> tuple[str, dict]:
    """A video with one SUCCEEDED render, made through the API; its id and the finished job."""
    video_id = new_video_id(prefix)
    with stack.client(timeout=30) as http:
        job_id = start_render(http, video_id, approved_script(http, video_id, script))["job_id"]
        finished = wait_terminal(http, video_id, job_id, timeout=RENDER_TIMEOUT_MS / 1000)
    assert finished["status"] == "SUCCEEDED", finished
    return video_id, finished


def test_the_console_plays_assets_served_from_another_origin(browser: Browser, cdn_stack: Stack, artifacts: Path):
    video_id, finished = rendered_video(cdn_stack, "console-cdn")
    assert finished["assets"]["video_url"].startswith(f"http://assets.test:{cdn_stack.port}/assets/")
    with open_console(browser, cdn_stack, f"{cdn_stack.base_url}/", artifacts / "cdn") as console:
        console.use_token(Role.VIEWER)
        console.open_video(video_id)
        expect(console.page.locator("#player")).to_have_attribute("src", finished["assets"]["video_url"])
        cues = console.check_playback(finished["assets"]["duration_sec"])
        assert SHORT_SCRIPT["scenes"][0]["narration"].startswith(cues[0]), cues
        console.shot("played-from-the-cdn-origin")


def test_hangul_is_drawn_with_the_consoles_web_font(console: Console, stack: Stack):
    video_id = new_video_id("console-font")
    with stack.client(timeout=30) as http:
        approved_script(http, video_id, {**SHORT_SCRIPT, "title": KOREAN_TITLE})
    console.use_token(Role.VIEWER)
    console.open_video(video_id)
    title = console.page.locator("#script-table tbody .script-title")
    expect(title).to_have_text(KOREAN_TITLE)

    loaded = console.page.evaluate(GLYPHS_OF_THE_TITLE, "#script-table tbody .script-title")
    assert loaded == {"faces": ["loaded"], "title": KOREAN_TITLE}, loaded
    # What Chromium actually drew the cell's glyphs with (the browser has no CJK system font).
    cdp = console.page.context.new_cdp_session(console.page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    document = cdp.send("DOM.getDocument")
    node = cdp.send("DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": "#script-table tbody .script-title"})
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    hangul = sum(1 for character in KOREAN_TITLE if "가" <= character <= "힣")
    web_font = [font for font in fonts if font["isCustomFont"]]
    assert web_font and sum(font["glyphCount"] for font in web_font) >= hangul, fonts
    console.shot("korean-title")


REASONS_SHOWN_IN = {
    "#save-script": "#action-reasons",
    "#approve-script": "#action-reasons",
    "#new-script": None,
    "#upload-media": "#media-reasons",
    "#import-deck": None,
}
"""Where a button's refusal is written beside its tooltip (None: the tooltip only)."""


@pytest.mark.parametrize(
    ("role", "refused"),
    [
        (
            Role.VIEWER,
            {
                "#save-script": "editor",
                "#approve-script": "approver",
                "#new-script": "editor",
                "#upload-media": "editor",
                "#import-deck": "editor",
            },
        ),
        (Role.EDITOR, {"#approve-script": "approver"}),
        (Role.APPROVER, {}),
    ],
)
def test_actions_the_role_cannot_do_are_disabled_with_the_reason(console: Console, stack: Stack, role: Role, refused: dict):
    video_id = new_video_id("console-roles")
    with stack.client(timeout=30) as http:
        response = http.put(f"/api/v2/videos/{video_id}/scripts/draft-1", json=SHORT_SCRIPT)
        assert response.status_code == 201, response.text
    console.use_token(role, f"console-{role.name.lower()}")
    console.open_video(video_id)
    console.open_script("draft-1")
    page = console.page
    for button, reasons in REASONS_SHOWN_IN.items():
        if button in refused:
            reason = f"Needs the {refused[button]} role; this token is {role.name.lower()}."
            expect(page.locator(button)).to_be_disabled()
            expect(page.locator(button)).to_have_attribute("title", reason)
            if reasons:
                expect(page.locator(reasons)).to_contain_text(reason)
        else:
            expect(page.locator(button)).to_be_enabled()
    expect(page.locator("#scenes [name=narration]").first).to_be_editable(editable=role >= Role.EDITOR)
    console.shot(f"as-{role.name.lower()}")

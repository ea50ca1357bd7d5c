"""The web console in headless Chromium against the real stack: a user pastes a token,
writes a Korean script, approves and renders it, watches the live progress, plays the
published video with its subtitles, cancels a render, sees errors, and hostile text stays text."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import WebSocketRoute, expect

from services.api.auth.roles import Role
from tests.browser.conftest import console_url
from tests.browser.console import RENDER_TIMEOUT_MS, Console
from tests.client import approved_script, job, new_video_id
from tests.job_store import blank_the_narration

SCRIPT = {
    "title": "콘솔에서 만든 영상",
    "language": "ko",
    "scenes": [
        {
            "narration": "안녕하세요. 웹 콘솔에서 만든 첫 번째 장면입니다.",
            "slide": {"title": "첫 장면", "bullets": ["토큰 붙여넣기", "대본 작성"]},
        },
        {
            "narration": "두 번째 장면에서는 승인과 렌더링을 봅니다. 진행률이 실시간으로 표시됩니다.",
            "slide": {"title": "승인과 렌더링", "bullets": ["승인", "렌더링", "재생"], "background": "#1e2a4a"},
        },
        {
            "narration": "마지막 장면입니다. 자막과 썸네일도 함께 만들어집니다.",
            "slide": {"title": "마무리", "bullets": ["자막", "썸네일"]},
        },
    ],
}
HOSTILE = "<script>alert(1)</script>"

WATCH_RENDER_PANEL = """() => {
    window.seen = {steps: [], progress: []};
    for (const [selector, list] of [["#job-step", window.seen.steps], ["#progress-text", window.seen.progress]]) {
        const node = document.querySelector(selector);
        new MutationObserver(() => { if (list.at(-1) !== node.textContent) list.push(node.textContent); })
            .observe(node, {childList: true, characterData: true, subtree: true});
    }
}"""


def test_a_new_script_goes_from_draft_to_a_playing_video(console: Console, stack):
    page = console.page
    expect(page.locator("#welcome")).to_be_visible()
    console.shot("welcome")
    console.use_token(Role.APPROVER)
    video_id = new_video_id("console")
    console.open_video(video_id)
    expect(page.locator("#editor-status")).to_have_text("UNSAVED")
    console.fill_script(SCRIPT)

    # A value only the server checks: the error names its code, message and the field.
    console.scene_field(0, "background").fill("navy")
    console.save()
    expect(console.error).to_be_visible()
    expect(page.locator("#error-code")).to_have_text("VALIDATION_ERROR")
    expect(page.locator("#error-detail")).to_contain_text("scenes[0].slide.background")
    console.shot("validation-error")

    console.scene_field(0, "background").fill("")
    console.save()
    expect(page.locator("#editor-status")).to_have_text("DRAFT")
    expect(console.error).to_be_hidden()
    expect(page.locator("#script-table tbody")).to_contain_text(SCRIPT["title"])
    expect(page.locator("#render-script")).to_be_disabled()
    console.shot("draft-saved")

    console.approve()
    expect(page.locator("#scenes [name=narration]").first).to_be_disabled()
    expect(page.locator("#render-script")).to_be_enabled()
    page.evaluate(WATCH_RENDER_PANEL)
    job_id = console.render()
    expect(page.locator("#job-status")).to_have_text(re.compile("RUNNING|SUCCEEDED"), timeout=RENDER_TIMEOUT_MS)
    console.shot("rendering")
    page.wait_for_function("() => document.querySelector('#progress-bar').value === 100", timeout=RENDER_TIMEOUT_MS)
    console.expect_job_status("SUCCEEDED")
    expect(page.locator("#progress-text")).to_have_text("100 %")
    expect(page.locator("#connection-state")).to_have_text("finished")

    seen = page.evaluate("window.seen")
    percents = [int(text.split()[0]) for text in seen["progress"]]
    assert percents == sorted(percents) and percents[-1] == 100, seen["progress"]
    assert "Encoding video (COMPOSE_VIDEO)" in seen["steps"], seen["steps"]

    with stack.client(timeout=30) as http:
        finished = job(http, video_id, job_id)
    assets = finished["assets"]
    player = page.locator("#player")
    expect(page.locator("#player-section")).to_be_visible()
    expect(player).to_have_attribute("src", assets["video_url"])
    expect(player).to_have_attribute("poster", assets["thumbnail_url"])
    expect(player.locator("track[kind=subtitles]")).to_have_attribute("src", assets["vtt_url"])
    expect(player.locator("track[kind=chapters]")).to_have_attribute("src", assets["chapters_url"])
    thumbnail = httpx.get(assets["thumbnail_url"], timeout=30)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    expect(page.locator("#job-table tbody tr").first).to_contain_text("SUCCEEDED")
    console.shot("published")

    subtitles = console.check_playback(assets["duration_sec"])
    assert subtitles[0].startswith("안녕하세요."), subtitles
    console.shot("seeked-with-subtitles")

    # The chapter list seeks to its scene, where the scene's first cue is the active one; the
    # cue carries its words' inline timestamps, which Chromium parses out of the text.
    scenes = SCRIPT["scenes"]
    seek = console.seek_to_chapter(1, len(scenes))
    assert abs(seek["landed"] - seek["chapter"]) <= 0.05, seek
    assert seek["active"] and seek["active"][0].split()[0] == scenes[1]["narration"].split()[0], seek
    assert re.search(r"<\d\d:\d\d:\d\d\.\d{3}>", " ".join(seek["rawActive"])), seek
    console.shot("chapter-two")
    # Played on, the active cues follow: the next change makes active a cue that holds the playhead.
    played = console.play_to_next_cue()
    assert played["active"] and all(start - 0.3 <= played["at"] < end + 0.3 for start, end in played["active"]), played


def test_a_render_is_canceled_from_the_console(console: Console, stack, reference_script):
    video_id = new_video_id("console-cancel")
    with stack.client(timeout=30) as http:
        script_id = approved_script(http, video_id, reference_script)
    console.use_token(Role.EDITOR, "console-editor")
    console.open_video(video_id)
    console.open_script(script_id)
    job_id = console.render()
    console.expect_job_status("RUNNING", timeout=RENDER_TIMEOUT_MS)
    expect(console.page.locator("#cancel-job")).to_be_enabled()
    console.shot("running")

    console.page.click("#cancel-job")
    console.expect_job_status("CANCELED")
    expect(console.page.locator("#cancel-job")).to_be_disabled()
    expect(console.page.locator("#job-table tbody tr", has_text=job_id[4:12])).to_contain_text("CANCELED")
    console.shot("canceled")
    with stack.client(timeout=30) as http:
        assert job(http, video_id, job_id)["status"] == "CANCELED"


def test_script_text_is_shown_as_text_never_run(console: Console):
    page = console.page
    hostile = {
        "title": HOSTILE,
        "scenes": [
            {
                "narration": f"{HOSTILE} 안녕하세요.",
                "slide": {"title": "<img src=x onerror=alert(2)>", "bullets": [HOSTILE, "<b>굵게</b>"]},
            }
        ],
    }
    console.use_token(Role.EDITOR)
    video_id = new_video_id("console-xss")
    console.open_video(video_id)
    console.fill_script(hostile)
    console.save()
    expect(page.locator("#editor-status")).to_have_text("DRAFT")

    # Once more from a fresh load: the token stays in the tab, the video in the address.
    page.reload()
    expect(page.locator("#video-heading")).to_have_text(video_id)
    title_cell = page.locator("#script-table tbody .script-title")
    expect(title_cell).to_have_text(HOSTILE)
    page.locator("#script-table tbody tr").first.click()
    expect(page.locator("#script-title")).to_have_value(HOSTILE)
    expect(console.scene_field(0, "narration")).to_have_value(f"{HOSTILE} 안녕하세요.")
    expect(console.scene_field(0, "slide-title")).to_have_value("<img src=x onerror=alert(2)>")
    expect(console.scene_field(0, "bullets")).to_have_value(f"{HOSTILE}\n<b>굵게</b>")
    console.shot("hostile-text")
    injected = page.evaluate("""() => ({
        scripts: [...document.scripts].map((script) => script.src),
        images: document.querySelectorAll("img").length,
        bold: document.querySelectorAll("main b").length,
    })""")
    assert injected == {"scripts": [f"{console_url(console.stack)}app.js"], "images": 0, "bold": 0}, injected


def test_a_failed_render_and_a_bad_token_show_code_and_message(console: Console):
    page = console.page
    page.fill("#token-input", "not-a-token")
    page.click("text=Use token")
    expect(page.locator("#error-code")).to_have_text("UNAUTHORIZED")
    console.shot("bad-token")

    console.use_token(Role.APPROVER)
    video_id = new_video_id("console-fail")
    console.open_video(video_id)
    console.fill_script(
        {"title": "말이 없어질 장면", "scenes": [{"narration": "곧 지워질 말입니다.", "slide": {"title": "빈 장면"}}]}
    )
    console.save()
    expect(page.locator("#editor-status")).to_have_text("DRAFT")
    console.approve()
    # Approval refuses blank narration; one blanked after approval is the renderer's to refuse.
    with console.stack.job_table() as db:
        blank_the_narration(db, video_id, page.locator("#editor-script-id").text_content())
    console.render()
    console.expect_job_status("FAILED", timeout=RENDER_TIMEOUT_MS)
    expect(page.locator("#job-error")).to_contain_text("INVALID_SCRIPT: scene 1 has no narration to speak")
    expect(page.locator("#job-table tbody tr").first).to_contain_text("INVALID_SCRIPT")
    # Still shown after the lists refreshed: only the user's next action dismisses it.
    expect(page.locator("#error-code")).to_have_text("INVALID_SCRIPT")
    expect(page.locator("#error-message")).to_have_text("scene 1 has no narration to speak")
    console.shot("failed-render")


def test_live_progress_resumes_after_the_connection_drops(console: Console, stack):
    """The progress socket is cut by the test in mid-render (a proxy between page and API);
    the page reconnects with `last_seq` and, over both connections, gets every event once."""
    connections: list[dict] = []

    def proxy(page_side: WebSocketRoute) -> None:
        connection = {"url": page_side.url, "seqs": [], "cut": False}
        connections.append(connection)
        server_side = page_side.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if connection["cut"]:
                return
            page_side.send(message)
            event = json.loads(message)
            if event["type"] != "progress":
                return
            connection["seqs"].append(event["seq"])
            if len(connections) == 1 and event["status"] == "RUNNING" and event["seq"] >= 3:
                connection["cut"] = True
                page_side.close(code=4000, reason="cut by the test")
                server_side.close()

        server_side.on_message(to_page)

    console.page.route_web_socket(re.compile(r"/render-progress\?"), proxy)
    console.use_token(Role.APPROVER)
    video_id = new_video_id("console-resume")
    console.open_video(video_id)
    console.fill_script(SCRIPT)
    console.save()
    expect(console.page.locator("#editor-status")).to_have_text("DRAFT")
    console.approve()
    console.render()
    console.expect_job_status("SUCCEEDED", timeout=RENDER_TIMEOUT_MS)
    expect(console.page.locator("#connection-state")).to_have_text("finished")
    console.shot("resumed-and-finished")

    assert len(connections) >= 2 and connections[0]["cut"], connections
    first, resumed = connections[0], connections[1]
    assert parse_qs(urlsplit(resumed["url"]).query)["last_seq"] == [str(first["seqs"][-1])], resumed["url"]
    # Each connection opened with its own short-lived ticket; the bearer token never went into a URL.
    queries = [parse_qs(urlsplit(connection["url"]).query) for connection in connections]
    assert all("token" not in query and query["ticket"] for query in queries), queries
    received = [seq for connection in connections for seq in connection["seqs"]]
    assert received == list(range(1, received[-1] + 1)), received

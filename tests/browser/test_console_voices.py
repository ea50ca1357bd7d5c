"""Voices and pronunciations in the console (SPEC §8.1): a user picks a script's voice from the
catalog of what the connected renderers speak, hears its first sentence (with the video's lexicon),
sets the script's and a scene's rate and a fallback voice, and edits the video's lexicon, seeing the
API's refusal beside the row it names. espeak-ng's voices are always in the catalog."""

import re

import pytest
from playwright.sync_api import Page, expect

from services.api.auth.roles import Role
from tests.browser.console import UI_TIMEOUT_MS, Console
from tests.client import new_video_id

FIRST_SENTENCE = "안녕하세요."
SCRIPT = {
    "title": "목소리 고르기",
    "language": "ko",
    "scenes": [
        {"narration": f"{FIRST_SENTENCE} 목소리를 골라 들어 봅니다.", "slide": {"title": "목소리", "bullets": ["미리 듣기"]}},
        {"narration": "두 번째 장면은 조금 천천히 말합니다.", "slide": {"title": "속도"}},
    ],
}
UNOFFERED_VOICE = "azure#ko-KR-SunHiNeural"
"""A cloud voice the test stack's renderers cannot speak (no Azure key): its preview is refused."""

PREVIEW_PLAYED = """async ([earlierSrc, timeoutMs]) => {
    // Resolves once the preview player holds a new blob of audio (not the earlier preview's) that
    // it has decoded and started playing.
    const audio = document.querySelector("#voice-audio");
    const within = (promise, what) => Promise.race([promise, new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs))]);
    const until = (names, done) => new Promise((resolve) => {
        const check = () => {
            if (!done()) return;
            for (const name of names) audio.removeEventListener(name, check);
            resolve();
        };
        for (const name of names) audio.addEventListener(name, check);
        check();
    });
    const loaded = () => audio.src.startsWith("blob:") && audio.src !== earlierSrc && (audio.readyState >= 1 || audio.error);
    await within(until(["loadedmetadata", "error"], loaded), "the preview's metadata");
    await within(until(["timeupdate", "ended", "error"], () => audio.currentTime > 0 || audio.ended || audio.error),
        "the preview to play");
    return {src: audio.src, duration: audio.duration, currentTime: audio.currentTime,
            error: audio.error && audio.error.message};
}"""


@pytest.fixture
def espeak_korean(stack) -> str:
    """The spec of an espeak voice the catalog offers for Korean."""
    with stack.client(Role.VIEWER, timeout=30) as http:
        response = http.get("/api/v2/voices", params={"language": "ko"})
    assert response.status_code == 200, response.text
    voices = [voice["voice"] for voice in response.json()["voices"] if voice["engine"] == "espeak"]
    assert voices, response.json()
    return voices[0]


def stored_script(stack, video_id: str, script_id: str) -> dict:
    with stack.client(timeout=30) as http:
        response = http.get(f"/api/v2/videos/{video_id}/scripts/{script_id}")
    assert response.status_code == 200, response.text
    return response.json()


def stored_lexicon(stack, video_id: str) -> list[dict]:
    with stack.client(timeout=30) as http:
        response = http.get(f"/api/v2/videos/{video_id}/lexicon")
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def put_lexicon(stack, video_id: str, entries: list[dict]) -> None:
    with stack.client(timeout=30) as http:
        response = http.put(f"/api/v2/videos/{video_id}/lexicon", json={"entries": entries})
    assert response.status_code == 200, response.text


def preview(page: Page) -> dict:
    """Clicks ▶ Preview; returns the request the page sent and what the player then played."""
    earlier_src = page.locator("#voice-audio").get_attribute("src")
    with page.expect_response("**/api/v2/voices/preview") as answer:
        page.click("#preview-voice")
    response = answer.value
    assert response.ok, (response.status, response.text())
    played = page.evaluate(PREVIEW_PLAYED, [earlier_src, UI_TIMEOUT_MS])
    assert played["error"] is None, played
    return {"sent": response.request.post_data_json, "played": played}


def fill_lexicon(page: Page, entries: list[dict]) -> None:
    """Types `entries` into the lexicon table, each in a new row."""
    for entry in entries:
        page.click("#add-lexicon-entry")
        row = page.locator("#lexicon-table tbody tr").last
        row.locator("[name=term]").fill(entry["term"])
        row.locator("[name=say]").fill(entry["say"])
        row.locator("[name=case_sensitive]").set_checked(entry.get("case_sensitive", False))


def test_a_catalog_voice_is_previewed_and_saved_with_rates_and_a_fallback(console: Console, stack, espeak_korean):
    page = console.page
    console.use_token(Role.EDITOR, "console-voices")
    video_id = new_video_id("console-voices")
    console.open_video(video_id)
    console.fill_script(SCRIPT)

    # The catalog of Korean voices, labelled by engine, where it runs and its kind.
    voice = page.locator("#script-voice")
    expect(voice).to_have_value("")
    expect(page.get_by_role("combobox", name=re.compile("^Voice"))).to_have_id("script-voice")
    offered = voice.locator(f"option[value='{espeak_korean}']")
    expect(offered).to_have_count(1)
    assert offered.evaluate("(option) => option.parentElement.label") == "espeak · local · formant"
    # The default voice has no spec to send to the preview.
    expect(page.locator("#preview-voice")).to_be_disabled()
    expect(page.locator("#preview-reason")).to_have_text("Choose a voice to preview it.")

    voice.select_option(espeak_korean)
    expect(page.locator("#preview-voice")).to_be_enabled()
    heard = preview(page)
    assert heard["sent"] == {"voice": espeak_korean, "language": "ko", "text": FIRST_SENTENCE, "video_id": video_id}, heard
    assert heard["played"]["src"].startswith("blob:") and heard["played"]["duration"] > 0, heard
    expect(page.locator("#voice-status")).to_have_text(f"“{FIRST_SENTENCE}” in {espeak_korean}.")
    console.shot("previewed")

    page.get_by_label("Rate (0.5–2.0)").fill("1.3")
    console.scene_field(1, "rate").fill("0.8")
    page.get_by_label("If the voice fails").select_option(espeak_korean)
    console.save()
    expect(page.locator("#editor-status")).to_have_text("DRAFT")
    script_id = page.locator("#editor-script-id").text_content()
    stored = stored_script(stack, video_id, script_id)
    assert (stored["voice"], stored["voice_fallback"], stored["rate"]) == (espeak_korean, espeak_korean, 1.3), stored
    assert [scene["rate"] for scene in stored["scenes"]] == [1.0, 0.8], stored["scenes"]

    # Read back into the editor after a reload: the saved choices, not the defaults.
    page.reload()
    console.open_script(script_id)
    expect(voice).to_have_value(espeak_korean)
    expect(page.locator("#script-voice-fallback")).to_have_value(espeak_korean)
    expect(page.locator("#script-rate")).to_have_value("1.3")
    expect(console.scene_field(1, "rate")).to_have_value("0.8")
    console.shot("voice-saved")

    # Another language, another catalog; the chosen Korean voice stays, named by its spec.
    page.locator("#script-language").fill("en")
    page.locator("#script-language").press("Tab")
    expect(voice.locator("option[value^='espeak#en']").first).to_be_attached()
    expect(voice.locator("option:checked")).to_have_text(f"{espeak_korean} (not offered now)")


def test_a_scripts_own_lexicon_and_rates_survive_an_edit_in_the_console(console: Console, stack):
    """What the editor has no control for (a script's own lexicon) is saved back as it came."""
    page = console.page
    video_id = new_video_id("console-script-lexicon")
    own = [{"term": "API", "say": "에이피아이", "case_sensitive": True}]
    with stack.client(timeout=30) as http:
        response = http.put(
            f"/api/v2/videos/{video_id}/scripts/script-001",
            json=SCRIPT | {"lexicon": own, "rate": 0.7, "voice_fallback": "espeak#ko"},
        )
    assert response.status_code == 201, response.text
    console.use_token(Role.EDITOR)
    console.open_video(video_id)
    console.open_script("script-001")
    expect(page.locator("#script-lexicon-note")).to_contain_text("This script has its own lexicon (1 term)")
    expect(page.locator("#script-rate")).to_have_value("0.7")
    page.locator("#script-title").fill("고친 제목")
    console.save()
    expect(page.locator("#notice")).to_have_text("Saved draft script-001.")
    stored = stored_script(stack, video_id, "script-001")
    assert (stored["title"], stored["lexicon"], stored["rate"], stored["voice_fallback"]) == ("고친 제목", own, 0.7, "espeak#ko")


def test_the_preview_speaks_with_the_videos_lexicon(console: Console, stack, espeak_korean):
    """The preview names the video, so its lexicon is applied: a term said as a phrase four times
    as long makes the preview of that sentence longer."""
    page = console.page
    console.use_token(Role.EDITOR)
    video_id = new_video_id("console-lexicon-preview")
    console.open_video(video_id)
    console.fill_script(SCRIPT)
    page.locator("#script-voice").select_option(espeak_korean)
    plain = preview(page)["played"]["duration"]

    fill_lexicon(page, [{"term": "안녕하세요", "say": "안녕하세요 안녕하세요 안녕하세요 안녕하세요"}])
    page.click("#save-lexicon")
    expect(page.locator("#lexicon-status")).to_contain_text("1 term, saved")
    with_lexicon = preview(page)["played"]["duration"]
    assert with_lexicon > 2 * plain, (plain, with_lexicon)


def test_a_preview_the_renderers_cannot_speak_says_why(console: Console, stack):
    """A script's voice no connected renderer offers stays chosen (offered by its spec), and its
    preview's refusal is shown beside the button with the API's code."""
    page = console.page
    video_id = new_video_id("console-voice-refused")
    with stack.client(timeout=30) as http:
        response = http.put(f"/api/v2/videos/{video_id}/scripts/script-001", json=SCRIPT | {"voice": UNOFFERED_VOICE})
    assert response.status_code == 201, response.text
    console.use_token(Role.EDITOR)
    console.open_video(video_id)
    console.open_script("script-001")
    voice = page.locator("#script-voice")
    expect(voice).to_have_value(UNOFFERED_VOICE)
    expect(voice.locator("option:checked")).to_have_text(f"{UNOFFERED_VOICE} (not offered now)")

    with page.expect_response("**/api/v2/voices/preview") as answer:
        page.click("#preview-voice")
    refused = answer.value
    # 503 VOICE_UNAVAILABLE when no renderer offers the engine, 502 TTS_FAILED when one tried and
    # could not: either way the page shows the API's own code and message.
    assert refused.status in (502, 503), (refused.status, refused.text())
    body = refused.json()
    status = page.locator("#voice-status")
    expect(status).to_have_text(f"Preview failed: {body['error_code']}: {body['message']}")
    expect(status).to_have_class("muted failure")
    assert page.locator("#voice-audio").get_attribute("src") is None  # nothing to play, no stale audio
    expect(page.locator("#preview-voice")).to_be_enabled()
    console.shot("preview-refused")


def test_the_lexicon_is_edited_saved_and_loaded_again(console: Console, stack):
    page = console.page
    video_id = new_video_id("console-lexicon")
    console.use_token(Role.EDITOR)
    console.open_video(video_id)
    expect(page.locator("#lexicon-status")).to_contain_text("No terms yet")
    entries = [
        {"term": "API", "say": "에이피아이", "case_sensitive": False},
        {"term": "SQL", "say": "시퀄", "case_sensitive": True},
        {"term": "slidereel", "say": "슬라이드릴", "case_sensitive": False},
    ]
    fill_lexicon(page, entries)
    page.click("#add-lexicon-entry")  # a row left empty is no entry
    expect(page.get_by_label("Say 2", exact=True)).to_have_value("시퀄")
    page.click("#save-lexicon")
    expect(page.locator("#lexicon-status")).to_contain_text("3 terms, saved")
    assert stored_lexicon(stack, video_id) == entries

    page.reload()
    expect(page.locator("#video-heading")).to_have_text(video_id)
    expect(page.locator("#lexicon-table tbody tr")).to_have_count(3)
    expect(page.get_by_label("Term 3", exact=True)).to_have_value("slidereel")
    expect(page.get_by_label("Case-sensitive 2", exact=True)).to_be_checked()
    page.get_by_label("Remove term 1").click()
    page.click("#save-lexicon")
    expect(page.locator("#lexicon-status")).to_contain_text("2 terms, saved")
    assert stored_lexicon(stack, video_id) == entries[1:]
    console.shot("lexicon-saved")


def test_a_refused_lexicon_row_shows_the_apis_error_beside_it(console: Console, stack):
    page = console.page
    video_id = new_video_id("console-lexicon-bad")
    kept = [{"term": "API", "say": "에이피아이", "case_sensitive": False}]
    put_lexicon(stack, video_id, kept)
    console.use_token(Role.EDITOR)
    console.open_video(video_id)
    expect(page.locator("#lexicon-table tbody tr")).to_have_count(1)

    # The same term in another case: the pronouncer would file both under one key.
    fill_lexicon(page, [{"term": "api", "say": "아피"}])
    with page.expect_response("**/lexicon") as answer:
        page.click("#save-lexicon")
    refused = answer.value
    assert refused.status == 422, (refused.status, refused.text())
    problem = refused.json()["detail"]["errors"][0]
    assert "entries[1].term" in problem["field"], problem
    rows = page.locator("#lexicon-table tbody tr")
    expect(rows.nth(1).locator(".row-error")).to_have_text(problem["message"])
    expect(rows.nth(1)).to_have_class("lexicon-entry invalid")
    expect(page.get_by_label("Term 2", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(rows.nth(0).locator(".row-error")).to_have_text("")
    expect(page.locator("#lexicon-status")).to_have_text("Not saved. VALIDATION_ERROR: see the marked terms.")
    console.shot("lexicon-refused")
    assert stored_lexicon(stack, video_id) == kept

    # Fixed and saved: the marks go.
    page.get_by_label("Term 2", exact=True).fill("REST")
    page.click("#save-lexicon")
    expect(page.locator("#lexicon-status")).to_contain_text("2 terms, saved")
    expect(page.locator("#lexicon-table .row-error").first).to_have_text("")
    expect(page.locator("#lexicon-table [aria-invalid]")).to_have_count(0)
    assert [entry["term"] for entry in stored_lexicon(stack, video_id)] == ["API", "REST"]


def test_a_viewer_sees_why_the_voice_and_the_lexicon_are_out_of_reach(console: Console, stack, espeak_korean):
    page = console.page
    video_id = new_video_id("console-voices-viewer")
    with stack.client(timeout=30) as http:
        response = http.put(f"/api/v2/videos/{video_id}/scripts/script-001", json=SCRIPT | {"voice": espeak_korean})
    assert response.status_code == 201, response.text
    console.use_token(Role.VIEWER, "console-viewer")
    console.open_video(video_id)
    console.open_script("script-001")
    expect(page.locator("#script-voice")).to_be_disabled()
    expect(page.locator("#script-rate")).to_be_disabled()
    expect(page.locator("#preview-voice")).to_be_disabled()
    expect(page.locator("#preview-reason")).to_have_text("Needs the editor role; this token is viewer.")
    expect(page.locator("#save-lexicon")).to_be_disabled()
    expect(page.locator("#add-lexicon-entry")).to_be_disabled()
    expect(page.locator("#lexicon-reasons")).to_have_text("Needs the editor role; this token is viewer.")

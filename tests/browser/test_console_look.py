"""The look in the console (SPEC §8.3): a user picks a script's format, transition and music, edits a
theme (colours, font, logo and its corner) against a live slide preview and sees the API's refusal
beside the field it names, lays out a scene's slide, and plays one scene alone in the script's format."""

import array
import io
import math
import re
import uuid
import wave

from playwright.sync_api import expect

from services.api.auth.roles import Role
from tests.browser.console import UI_TIMEOUT_MS, Console
from tests.browser.test_console_media import RED, png
from tests.client import new_video_id
from tests.media import near
from tests.media_uploads import latin_font

PREVIEW_TIMEOUT_MS = 120_000
"""A scene preview: speech synthesis and an encode of one scene, on a loaded machine."""
SCENE_PLAYED = """async (timeoutMs) => {
    // Resolves once the scene player holds an object URL whose first frame it has decoded.
    const video = document.querySelector("#scene-video");
    const loaded = () => video.src.startsWith("blob:") && video.readyState >= 2;
    await Promise.race([
        new Promise((resolve) => {
            const check = () => { if (loaded() || video.error) resolve(); };
            video.addEventListener("loadeddata", check);
            video.addEventListener("error", check);
            check();
        }),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timed out waiting for loadeddata")), timeoutMs)),
    ]);
    return {width: video.videoWidth, height: video.videoHeight, error: video.error && video.error.message};
}"""
FONT_READY = """(family) => document.fonts.check(`16px "${family}"`)"""


def wav_tone(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """A mono 16-bit WAV of a 440 Hz tone."""
    samples = array.array("h", (int(8_000 * math.sin(2 * math.pi * 440 * index / rate)) for index in range(int(seconds * rate))))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def upload(console: Console, name: str, mime_type: str, data: bytes, kind: str) -> str:
    """Uploads a file through the Media card; answers its media id, from the API's list."""
    console.choose_file("#upload-media", name, mime_type, data)
    expect(console.page.locator("#notice")).to_contain_text(f"Uploaded {name} as {kind}")
    video_id = console.page.locator("#video-heading").text_content()
    with console.stack.client(timeout=30) as http:
        media = http.get(f"/api/v2/videos/{video_id}/media").json()["media"]
    [media_id] = [item["media_id"] for item in media if item["kind"] == kind]
    return media_id


def saved_script(console: Console) -> dict:
    video_id = console.page.locator("#video-heading").text_content()
    script_id = console.page.locator("#editor-script-id").text_content()
    with console.stack.client(timeout=30) as http:
        response = http.get(f"/api/v2/videos/{video_id}/scripts/{script_id}")
    assert response.status_code == 200, response.text
    return response.json()


def save_and_wait(console: Console) -> None:
    """Clicks Save draft and waits for the API's answer (the notice reads the same for each save)."""
    with console.page.expect_response(lambda response: "/scripts" in response.url and response.request.method in ("POST", "PUT")):
        console.save()
    expect(console.page.locator("#editor-status")).to_have_text("DRAFT")


def test_format_transition_and_music_are_saved_with_the_script(console: Console):
    page = console.page
    console.use_token(Role.EDITOR)
    console.open_video(new_video_id("console-look"))
    music_id = upload(console, "bed.wav", "audio/wav", wav_tone(), "audio")

    # A video without scripts opens the sample: cut, no music, so neither's settings show.
    expect(page.locator("#editor-script-id")).to_have_text("(new)")
    expect(page.locator("#script-format")).to_have_value("16:9")
    expect(page.locator("#transition-seconds")).to_be_hidden()
    expect(page.locator("#music-volume")).to_be_hidden()

    page.select_option("#script-format", "9:16")
    page.select_option("#script-transition", "fade")
    page.fill("#script-transition-sec", "0.6")
    expect(page.locator(f"#script-music option[value='{music_id}']")).to_have_count(1)
    page.select_option("#script-music", music_id)
    expect(page.locator("#music-volume")).to_have_value("-18")
    expect(page.locator("#music-duck")).to_have_value("-12")
    expect(page.locator("#music-fade")).to_have_value("2")
    page.fill("#music-volume", "-20")
    save_and_wait(console)
    console.shot("look-saved")

    saved = saved_script(console)
    assert saved["format"] == "9:16", saved
    assert saved["transition"] == {"type": "fade", "duration_sec": 0.6}, saved
    assert saved["music"] == {"media": music_id, "volume_db": -20, "duck_db": -12, "fade_sec": 2}, saved
    # The editor shows the saved script's look again.
    expect(page.locator("#script-format")).to_have_value("9:16")
    expect(page.locator("#script-music")).to_have_value(music_id)
    expect(page.locator("#script-transition-sec")).to_have_value("0.6")

    page.select_option("#script-music", "")
    expect(page.locator("#music-volume")).to_be_hidden()
    save_and_wait(console)
    assert saved_script(console)["music"] is None


def test_a_theme_is_edited_against_a_live_slide(console: Console):
    page = console.page
    console.use_token(Role.EDITOR)
    console.open_video(new_video_id("console-theme"))
    logo_id = upload(console, "logo.png", "image/png", png(RED, (60, 40)), "image")
    font_id = upload(console, "brand.ttf", "font/ttf", latin_font(), "font")
    audio_id = upload(console, "bed.wav", "audio/wav", wav_tone(), "audio")
    slide = page.locator("#theme-slide")
    status = page.locator("#theme-status")

    theme_id = f"look-{uuid.uuid4().hex[:12]}"
    page.fill("#theme-id", theme_id)
    page.click("#theme-open-form button")
    expect(status).to_have_text(f"{theme_id} is a new theme: save it to create it.")
    expect(page.locator("#theme-background")).to_have_value("#1e2a4a")
    expect(slide).to_have_css("background-color", "rgb(30, 42, 74)")

    page.fill("#theme-background", "#102030")
    expect(slide).to_have_css("background-color", "rgb(16, 32, 48)")
    page.fill("#theme-text", "#fafafa")
    expect(slide).to_have_css("color", "rgb(250, 250, 250)")
    page.fill("#theme-accent", "#e03c31")
    expect(slide.locator(".slide-title")).to_have_css("border-bottom-color", "rgb(224, 60, 49)")

    page.fill("#theme-logo", logo_id)
    page.select_option("#theme-logo-position", "bottom-left")
    [middle] = console.pictures("#theme-slide .slide-logo", 1)
    assert near(middle, RED), middle
    expect(page.locator("#preview-logo-note")).to_have_text("logo bottom left")
    frame, logo = slide.bounding_box(), page.locator("#theme-slide .slide-logo").bounding_box()
    assert logo["x"] - frame["x"] < 0.1 * frame["width"], (logo, frame)
    assert frame["y"] + frame["height"] - (logo["y"] + logo["height"]) < 0.1 * frame["height"], (logo, frame)

    page.fill("#theme-font", font_id)
    expect(page.locator("#preview-font-note")).to_have_text("font Test Latin")
    expect(slide).to_have_css("font-family", re.compile(f"slidereel {font_id}"))
    assert page.evaluate(FONT_READY, f"slidereel {font_id}")

    # The slide takes the script's format.
    assert abs(frame["width"] / frame["height"] - 16 / 9) < 0.02, frame
    page.select_option("#script-format", "9:16")
    expect(page.locator("#preview-format-note")).to_have_text("9:16 (the script's format)")
    portrait = slide.bounding_box()
    assert abs(portrait["width"] / portrait["height"] - 9 / 16) < 0.02, portrait
    console.shot("theme-preview")

    with page.expect_response(lambda response: f"/themes/{theme_id}" in response.url and response.request.method == "PUT"):
        page.click("#save-theme")
    expect(status).to_contain_text(f"{theme_id} saved")
    expected = {
        "background": "#102030",
        "text": "#fafafa",
        "accent": "#e03c31",
        "font": font_id,
        "logo": logo_id,
        "logo_position": "bottom-left",
    }
    with console.stack.client(Role.VIEWER, timeout=30) as http:
        stored = http.get(f"/api/v2/themes/{theme_id}").json()
    assert {name: stored[name] for name in expected} == expected, stored
    expect(page.locator(f"#script-theme option[value='{theme_id}']")).to_have_count(1)

    # Audio as the font: the API's refusal shows beside the font, and the stored theme is unchanged.
    page.fill("#theme-font", audio_id)
    page.click("#save-theme")
    font_error = page.locator("#theme-font-error")
    expect(font_error).to_have_text(f"media '{audio_id}' is audio, not a font")
    expect(page.locator("#theme-font")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#theme-logo-error")).to_be_empty()
    expect(status).to_have_text("Not saved. VALIDATION_ERROR: see the marked field.")
    console.shot("theme-font-refused")
    with console.stack.client(Role.VIEWER, timeout=30) as http:
        assert http.get(f"/api/v2/themes/{theme_id}").json()["font"] == font_id
    page.fill("#theme-font", font_id)
    expect(font_error).to_be_empty()
    expect(page.locator("#theme-font")).not_to_have_attribute("aria-invalid", "true")


def test_a_scene_plays_alone_in_the_scripts_format(console: Console):
    page = console.page
    console.use_token(Role.EDITOR)
    console.open_video(new_video_id("console-scene-preview"))
    console.fill_script(
        {
            "title": "장면 미리 보기",
            "scenes": [
                {"narration": "인용으로 시작합니다.", "slide": {"title": "하나"}},
                {"narration": "두 번째 장면만 미리 봅니다.", "slide": {"title": "둘", "bullets": ["미리 보기"]}},
                {"narration": "", "slide": {"title": "셋"}},
            ],
        }
    )
    # The first scene becomes a quote: its title and bullets hide (and are not saved), its quote shows.
    console.scene_field(0, "layout").select_option("quote")
    expect(console.scene_field(0, "slide-title")).to_be_hidden()
    expect(console.scene_field(0, "bullets")).to_be_hidden()
    console.scene_field(0, "quote").fill("단순함이 궁극의 정교함이다.")
    console.scene_field(0, "attribution").fill("레오나르도 다 빈치")
    page.select_option("#script-format", "9:16")

    # The third scene has nothing to say yet: the draft is saved, and the preview's refusal shown.
    page.get_by_role("button", name="Preview scene 3").click()
    expect(page.locator("#scene-preview-status")).to_contain_text("NARRATION_MISSING", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#scene-preview-status")).to_have_class(re.compile("failure"))
    expect(page.locator("#editor-status")).to_have_text("DRAFT")
    saved = saved_script(console)
    assert saved["format"] == "9:16", saved
    assert saved["scenes"][0]["slide"] == {
        "layout": "quote",
        "title": "",
        "subtitle": "",
        "bullets": [],
        "background": None,
        "image": None,
        "fit": "contain",
        "caption": "",
        "motion": "none",
        "quote": "단순함이 궁극의 정교함이다.",
        "attribution": "레오나르도 다 빈치",
    }, saved["scenes"][0]

    page.get_by_role("button", name="Preview scene 2").click()
    expect(page.locator("#scene-preview-status")).to_have_text(re.compile(r"^Scene 2 of "), timeout=PREVIEW_TIMEOUT_MS)
    played = page.evaluate(SCENE_PLAYED, UI_TIMEOUT_MS)
    assert played["error"] is None, played
    assert played["width"] * 16 == played["height"] * 9, played
    console.shot("scene-previewed")


def test_what_the_editor_has_no_input_for_survives_a_save(console: Console):
    """A script's captions and lexicon and a scene's chapter and hint, set through the API, come
    back unchanged after the console saves the script: the editor keeps what it does not show."""
    video_id = new_video_id("console-kept")
    script = {
        "title": "지켜지는 설정",
        "language": "ko",
        "captions": {"words": False, "burn_in": True, "highlight": True},
        "lexicon": [{"term": "API", "say": "에이피아이", "case_sensitive": False}],
        "scenes": [
            {"narration": "첫 장면입니다.", "chapter": "들어가며", "hint": "원본 슬라이드의 글", "slide": {"title": "하나"}},
            {"narration": "둘째 장면입니다.", "chapter": "본론", "slide": {"title": "둘"}},
        ],
    }
    with console.stack.client(timeout=30) as http:
        assert http.put(f"/api/v2/videos/{video_id}/scripts/kept", json=script).status_code in (200, 201)
    console.use_token(Role.EDITOR)
    console.open_video(video_id)
    console.open_script("kept")
    console.scene_field(1, "narration").fill("둘째 장면을 고쳤습니다.")
    save_and_wait(console)

    saved = saved_script(console)
    assert saved["scenes"][1]["narration"] == "둘째 장면을 고쳤습니다."
    assert saved["captions"] == script["captions"] and saved["lexicon"] == script["lexicon"]
    assert [scene["chapter"] for scene in saved["scenes"]] == ["들어가며", "본론"]
    assert saved["scenes"][0]["hint"] == "원본 슬라이드의 글"


def test_an_approved_scripts_scene_is_previewed_as_stored_and_stays_read_only(console: Console):
    page = console.page
    console.use_token(Role.APPROVER)
    console.open_video(new_video_id("console-approved-preview"))
    console.fill_script(
        {"title": "승인된 미리 보기", "scenes": [{"narration": "승인된 장면을 미리 봅니다.", "slide": {"title": "하나"}}]}
    )
    save_and_wait(console)
    console.approve()

    expect(console.scene_field(0, "narration")).to_be_disabled()
    expect(page.locator("#add-scene")).to_be_disabled()
    page.get_by_role("button", name="Preview scene 1").click()
    expect(page.locator("#scene-preview-status")).to_have_text(
        re.compile(r"^Scene 1 of .*approved script"), timeout=PREVIEW_TIMEOUT_MS
    )
    played = page.evaluate(SCENE_PLAYED, UI_TIMEOUT_MS)
    assert played["error"] is None, played
    expect(page.locator("#editor-status")).to_have_text("APPROVED")

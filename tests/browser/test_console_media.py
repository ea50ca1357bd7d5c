"""Images, decks and narration still to write, in the console: a user uploads a picture and
shows it on a scene's slide, imports a PDF deck as a draft of image scenes (following the import's
progress, also after a reload), and cannot approve until every scene has narration (the reason
names the scenes)."""

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect

from services.api.auth.roles import Role
from tests import decks
from tests.browser.conftest import console_url, open_console
from tests.browser.console import Console
from tests.client import new_video_id
from tests.media import near
from tests.stack import Stack

RED, GREEN, BLUE = (200, 40, 40), (40, 160, 60), (40, 70, 200)
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
IMPORT_TIMEOUT_MS = 120_000
"""A deck's import: its pages are drawn one by one, and each is stored as media."""
DECK_IMPORTS = re.compile(r"/api/v2/videos/[^/]+/decks(/[^/?]+|\?.*)$")
"""The console's polls of deck imports: one import, or the newest of a video's (its list)."""


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 36)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_deck(*colours: tuple[int, int, int]) -> bytes:
    """A deck of one flat page per colour: each page's picture is told apart by its colour."""
    first, *rest = [Image.new("RGB", (320, 180), colour) for colour in colours]
    buffer = io.BytesIO()
    first.save(buffer, "PDF", save_all=True, append_images=rest)
    return buffer.getvalue()


class HeldImport:
    """Answers the console's polls of deck imports with the server's own answer, but as still
    converting at page 2 until released: what a user sees in the middle of a large deck, however
    fast the server draws this small one."""

    def __init__(self, page: Page) -> None:
        self.held = True
        page.route(DECK_IMPORTS, self._answer)

    def release(self) -> None:
        self.held = False

    def _answer(self, route: Route) -> None:
        response = route.fetch()
        if not self.held or not response.ok:
            route.fulfill(response=response)
            return
        body = response.json()
        converting = {
            "status": "CONVERTING",
            "pages_done": 2,
            "message": "Rendered page 2 of 3",
            "script_id": None,
            "scenes_without_narration": [],
        }
        if "imports" in body:
            body["imports"] = [view | converting for view in body["imports"]]
        else:
            body |= converting
        route.fulfill(response=response, json=body)


@pytest.fixture(scope="module")
def failing_libreoffice_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API alone with `false` as LibreOffice: a PPTX passes the first checks (202), then its
    conversion fails."""
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("failing-libreoffice"),
        workers=0,
        extra_env={"DECK_SOFFICE": shutil.which("false") or "/bin/false"},
    )
    with stack.running_api() as running:
        yield running


def test_an_uploaded_image_is_shown_on_a_scenes_slide(console: Console, stack):
    page = console.page
    console.use_token(Role.EDITOR)
    video_id = new_video_id("console-media")
    console.open_video(video_id)
    expect(page.locator("#media-pager")).to_contain_text("none yet")

    console.choose_file("#upload-media", "사진.png", "image/png", png(RED))
    expect(page.locator("#notice")).to_contain_text("Uploaded 사진.png as image")
    [thumbnail] = console.pictures("#media-list .picture", 1)
    assert near(thumbnail, RED), thumbnail
    with stack.client(timeout=30) as http:
        [media] = http.get(f"/api/v2/videos/{video_id}/media").json()["media"]
    assert (media["width"], media["height"]) == (64, 36), media

    console.fill_script(
        {
            "title": "사진 한 장",
            "scenes": [
                {
                    "narration": "사진을 보여 주는 장면입니다.",
                    "slide": {
                        "title": "사진",
                        "image": media["media_id"],
                        "fit": "cover",
                        "caption": "빨간 사진",
                        "motion": "zoom-in",
                    },
                },
                {"narration": "글자만 있는 장면입니다.", "slide": {"title": "글", "bullets": ["하나"]}},
            ],
        }
    )
    image_scene, text_scene = page.locator("#scenes .scene").all()
    expect(image_scene.locator("[name=bullets]")).to_be_hidden()
    expect(text_scene.locator("[name=caption]")).to_be_hidden()
    expect(text_scene.locator("[name=fit]")).to_be_hidden()
    expect(text_scene.locator("[name=motion]")).to_be_hidden()
    console.save()
    expect(page.locator("#editor-status")).to_have_text("DRAFT")

    # The editor shows the saved script again: the image scene keeps its choice and draws it.
    expect(image_scene.locator("[name=image]")).to_have_value(media["media_id"])
    [preview] = console.pictures("#scenes .scene-picture .picture", 1)
    assert near(preview, RED), preview
    console.shot("image-scene-saved")
    with stack.client(timeout=30) as http:
        script_id = page.locator("#editor-script-id").text_content()
        saved = http.get(f"/api/v2/videos/{video_id}/scripts/{script_id}").json()
    # The console names each slide's layout: the one the Slide picker chose.
    unused = {"subtitle": "", "quote": "", "attribution": ""}
    image_slide = {
        "layout": "image",
        "image": media["media_id"],
        "fit": "cover",
        "caption": "빨간 사진",
        "bullets": [],
        "motion": "zoom-in",
        **unused,
    }
    text_slide = {
        "layout": "bullets",
        "image": None,
        "fit": "contain",
        "caption": "",
        "bullets": ["하나"],
        "motion": "none",
        **unused,
    }
    assert [scene["slide"] for scene in saved["scenes"]] == [
        {"title": "사진", "background": None, **image_slide},
        {"title": "글", "background": None, **text_slide},
    ], saved["scenes"]


def test_approval_waits_until_every_scene_has_narration(console: Console, stack):
    page = console.page
    video_id = new_video_id("console-narration")
    draft = {
        "title": "쓰다 만 대본",
        "scenes": [
            {"narration": "첫 장면은 다 썼습니다.", "slide": {"title": "하나"}},
            {"narration": "", "slide": {"title": "둘"}, "hint": "2쪽의 글: 매출이 두 배로"},
            # Invisible characters only: as blank to the API as nothing at all.
            {"narration": "\u200b \u3000", "slide": {"title": "셋"}},
        ],
    }
    with stack.client(timeout=30) as http:
        response = http.put(f"/api/v2/videos/{video_id}/scripts/draft-1", json=draft)
        assert response.status_code == 201, response.text
    console.use_token(Role.APPROVER)
    console.open_video(video_id)
    console.open_script("draft-1")
    scenes = page.locator("#scenes .scene")
    markers = page.locator("#scenes .narration-missing")
    approve = page.locator("#approve-script")
    expect(markers.nth(0)).to_be_hidden()
    expect(markers.nth(1)).to_be_visible()
    expect(markers.nth(2)).to_be_visible()
    expect(scenes.nth(1).locator(".hint-text")).to_have_text(draft["scenes"][1]["hint"])
    expect(scenes.nth(0).locator(".hint")).to_be_hidden()
    expect(approve).to_be_disabled()
    expect(approve).to_have_attribute("title", "Scenes 2, 3 have no narration.")
    expect(page.locator("#action-reasons")).to_contain_text("Scenes 2, 3 have no narration.")
    console.shot("narration-missing")

    console.scene_field(1, "narration").fill("매출이 두 배가 되었습니다.")
    expect(markers.nth(1)).to_be_hidden()
    expect(approve).to_have_attribute("title", "Scene 3 has no narration.")
    console.scene_field(2, "narration").fill("마지막 장면입니다.")
    expect(markers.nth(2)).to_be_hidden()
    expect(approve).to_be_enabled()

    # Approval is of the saved draft, which still has blank scenes: the API's refusal is shown.
    approve.click()
    expect(page.locator("#error-code")).to_have_text("NARRATION_MISSING")
    expect(page.locator("#error-detail")).to_contain_text("$.scenes[1].narration")
    expect(page.locator("#error-detail")).to_contain_text("$.scenes[2].narration")
    console.shot("narration-missing-refused")

    console.save()
    expect(console.error).to_be_hidden()
    expect(page.locator("#notice")).to_contain_text("Saved draft draft-1")
    console.approve()
    with stack.client(timeout=30) as http:
        approved = http.get(f"/api/v2/videos/{video_id}/scripts/draft-1").json()
    assert [scene["hint"] for scene in approved["scenes"]] == ["", draft["scenes"][1]["hint"], ""], approved


def test_a_refused_deck_shows_why(console: Console):
    page = console.page
    console.use_token(Role.EDITOR)
    console.open_video(new_video_id("console-deck-refused"))
    console.choose_file("#import-deck", "사진.png", "image/png", png(RED))
    expect(page.locator("#error-code")).to_have_text("UNSUPPORTED_MEDIA_TYPE")
    expect(page.locator("#error-message")).not_to_be_empty()
    expect(page.locator("#notice")).to_be_empty()
    expect(page.locator("#deck-progress")).to_be_hidden()
    expect(page.locator("#import-deck")).to_be_enabled()
    with console.stack.client(timeout=30) as http:
        response = http.get(f"/api/v2/videos/{page.locator('#video-heading').text_content()}/decks")
    assert response.status_code == 200 and response.json()["total"] == 0, response.text


def test_a_pdf_deck_becomes_a_draft_of_image_scenes(console: Console):
    page = console.page
    console.use_token(Role.APPROVER)
    console.open_video(new_video_id("console-deck"))
    held = HeldImport(page)
    console.choose_file("#import-deck", "발표.pdf", "application/pdf", pdf_deck(RED, GREEN, BLUE))
    notice = page.locator("#notice")
    import_button = page.locator("#import-deck")
    expect(notice).to_have_text("Importing 발표.pdf: Rendered page 2 of 3")
    expect(page.locator("#deck-pages")).to_have_text("2 / 3 pages")
    expect(page.locator("#deck-bar")).to_have_js_property("value", 2)
    expect(import_button).to_be_disabled()
    expect(import_button).to_have_attribute("title", "A deck is being imported into this video.")
    console.shot("deck-importing")

    held.release()
    expect(notice).to_contain_text("Imported 3 pages from 발표.pdf as draft deck-", timeout=IMPORT_TIMEOUT_MS)
    expect(console.error).to_be_hidden()
    expect(notice).to_contain_text("3 scenes still need narration.")
    expect(page.locator("#deck-progress")).to_be_hidden()
    expect(import_button).to_be_enabled()
    expect(page.locator("#editor-status")).to_have_text("DRAFT")
    expect(page.locator("#editor-script-id")).to_have_text(re.compile(r"^deck-[0-9a-f]{24}$"))

    scenes = page.locator("#scenes .scene")
    expect(scenes).to_have_count(3)
    for scene in scenes.all():
        expect(scene.locator("[name=image]")).to_have_value(re.compile(r"^med-[0-9a-f]{32}$"))
        expect(scene.locator(".narration-missing")).to_be_visible()
        expect(scene.locator("[name=bullets]")).to_be_hidden()
    expect(page.locator("#approve-script")).to_have_attribute("title", "Scenes 1, 2, 3 have no narration.")
    expect(page.locator("#approve-script")).to_be_disabled()
    # Each scene shows its own page, in page order.
    middles = console.pictures("#scenes .scene-picture .picture", 3)
    assert all(near(middle, page_colour) for middle, page_colour in zip(middles, (RED, GREEN, BLUE), strict=True)), middles
    console.pictures("#media-list .picture", 3)
    console.shot("deck-imported")


def test_a_deck_import_is_followed_again_after_a_reload(console: Console):
    """The import goes on on the server: another video's page does not follow it, and a reloaded
    page finds it converting, shows its progress and holds Import, then only announces the draft
    (the user may be editing another script by then)."""
    page = console.page
    console.use_token(Role.EDITOR)
    video_id = new_video_id("console-deck-reload")
    console.open_video(video_id)
    held = HeldImport(page)
    console.choose_file("#import-deck", "발표.pdf", "application/pdf", pdf_deck(GREEN, BLUE, RED))
    notice = page.locator("#notice")
    progress = page.locator("#deck-progress")
    expect(notice).to_have_text("Importing 발표.pdf: Rendered page 2 of 3")

    console.open_video(new_video_id("console-deck-other"))
    expect(progress).to_be_hidden()
    expect(page.locator("#import-deck")).to_be_enabled()
    console.open_video(video_id)
    page.reload()
    expect(notice).to_have_text("Importing the PDF deck: Rendered page 2 of 3")
    expect(page.locator("#deck-pages")).to_have_text("2 / 3 pages")
    expect(page.locator("#import-deck")).to_be_disabled()

    held.release()
    expect(notice).to_contain_text("Imported 3 pages from the PDF deck as draft deck-", timeout=IMPORT_TIMEOUT_MS)
    expect(notice).to_contain_text("open it from the scripts above (3 scenes still need narration).")
    expect(console.error).to_be_hidden()
    expect(progress).to_be_hidden()
    expect(page.locator("#import-deck")).to_be_enabled()
    expect(page.locator("#editor-script-id")).not_to_have_text(re.compile(r"^deck-"))
    script_id = re.search(r"draft (deck-[0-9a-f]{24})", notice.text_content()).group(1)
    console.open_script(script_id)
    expect(page.locator("#scenes .scene")).to_have_count(3)
    console.pictures("#media-list .picture", 3)


def test_a_deck_failing_after_acceptance_shows_its_error(browser: Browser, failing_libreoffice_stack: Stack, artifacts: Path):
    stack = failing_libreoffice_stack
    deck = decks.pptx([((0, 0, 0), "하나", None), ((255, 255, 255), "둘", None)])
    with open_console(browser, stack, console_url(stack), artifacts / "deck-failing") as console:
        page = console.page
        console.use_token(Role.EDITOR)
        console.open_video(new_video_id("console-deck-failing"))
        console.choose_file("#import-deck", "발표.pptx", PPTX_TYPE, deck)
        expect(page.locator("#error-code")).to_have_text("MEDIA_INVALID", timeout=IMPORT_TIMEOUT_MS)
        expect(page.locator("#error-message")).to_contain_text("LibreOffice could not convert")
        expect(page.locator("#notice")).to_have_text("Could not import 발표.pptx.")
        expect(page.locator("#deck-progress")).to_be_hidden()
        expect(page.locator("#import-deck")).to_be_enabled()
        expect(page.locator("#editor-script-id")).not_to_have_text(re.compile(r"^deck-"))
        console.shot("deck-failed")

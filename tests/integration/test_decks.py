"""Decks through the real API: a PDF or PPTX becomes a DRAFT script of image scenes (narration
from the speaker notes), which approval refuses until every scene has narration, and which
renders into a video whose scenes show the pages, checked on the decoded MP4 frames. Hostile
decks are refused with their code, the service up and nothing stored."""

import io
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
from PIL import Image

from services.api.decks.pages import convert
from tests import decks
from tests.client import new_video_id, start_render, wait_terminal
from tests.media import cues, distinct_pictures, near, picture_change_times, scene_starts
from tests.stack import Stack

PAGE_COLOURS = [
    (200, 30, 30),
    (250, 250, 150),
    (30, 40, 200),
    (220, 200, 20),
    (120, 20, 120),
    (150, 250, 250),
    (20, 90, 20),
    (250, 180, 200),
    (40, 40, 40),
    (250, 250, 250),
]
"""Dark and light in turn: neighbouring pages differ in brightness, which is what tells scenes apart."""
NEEDS_LIBREOFFICE = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is not installed: PPTX decks need it (.ci/run installs libreoffice-impress as root)",
)


def has_korean_font() -> bool:
    listed = (
        subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True, check=False) if shutil.which("fc-list") else None
    )
    return bool(listed and listed.stdout.strip())


def import_deck(http: httpx.Client, video_id: str, data: bytes, **params) -> httpx.Response:
    return http.post(f"/api/v2/videos/{video_id}/decks", content=data, params=params)


def followed(http: httpx.Client, response: httpx.Response, timeout: float = 240) -> dict:
    """The import the response began (202), polled until it ended; its progress must only grow."""
    assert response.status_code == 202, response.text
    view = response.json()
    assert view["status"] == "CONVERTING" and view["pages_done"] == 0
    seen = [0]
    deadline = time.monotonic() + timeout
    while view["status"] == "CONVERTING":
        assert time.monotonic() < deadline, f"the import did not end: {view}"
        time.sleep(0.1)
        view = http.get(response.headers["location"]).json()
        seen.append(view["pages_done"])
    assert seen == sorted(seen), seen
    return view


def imported(http: httpx.Client, response: httpx.Response) -> dict:
    """The import the response began, once it SUCCEEDED, with its script."""
    view = followed(http, response)
    assert view["status"] == "SUCCEEDED", view
    assert view["pages_done"] == view["pages"] and view["script_id"] == view["import_id"]
    return {**view, "script": http.get(f"/api/v2/videos/{view['video_id']}/scripts/{view['script_id']}").json()}


def narrated(http: httpx.Client, video_id: str, script: dict, narrations: dict[int, str]) -> None:
    """Writes the missing narration, as a user does in the console, and approves the script."""
    scenes = [{**scene, "narration": narrations.get(index, scene["narration"])} for index, scene in enumerate(script["scenes"])]
    body = {"title": script["title"], "language": script["language"], "scenes": scenes}
    url = f"/api/v2/videos/{video_id}/scripts/{script['script_id']}"
    assert http.put(url, json=body).status_code == 200
    approved = http.post(f"{url}/approve")
    assert approved.status_code == 200, approved.text


def rendered_video(http: httpx.Client, video_id: str, script_id: str, folder: Path) -> tuple[Path, str]:
    job = wait_terminal(http, video_id, start_render(http, video_id, script_id)["job_id"])
    assert job["status"] == "SUCCEEDED", job
    video = folder / "video.mp4"
    video.write_bytes(http.get(job["assets"]["video_url"]).content)
    return video, http.get(job["assets"]["subtitle_url"]).text


def test_a_pdf_deck_becomes_a_draft_and_a_video_whose_scenes_show_its_pages(stack: Stack, tmp_path):
    video_id = new_video_id("pdf-deck")
    deck = decks.pdf([decks.coloured_page(colour, f"Page {number}") for number, colour in enumerate(PAGE_COLOURS, start=1)])
    with stack.client(timeout=120) as http:
        done = imported(http, import_deck(http, video_id, deck, title="분기 보고"))
        assert (done["source"], done["pages"]) == ("pdf", 10)
        assert done["scenes_without_narration"] == list(range(10))
        script = done["script"]
        assert (script["status"], script["title"], len(script["scenes"])) == ("DRAFT", "분기 보고", 10)
        assert [scene["hint"] for scene in script["scenes"]] == [f"Page {number}" for number in range(1, 11)]
        assert all(scene["slide"]["fit"] == "contain" for scene in script["scenes"])
        for scene, colour in zip(script["scenes"], PAGE_COLOURS):
            page = Image.open(io.BytesIO(http.get(f"/api/v2/videos/{video_id}/media/{scene['slide']['image']}/content").content))
            assert page.size == (1920, 1080) and near(page.getpixel((100, 540)), colour)

        again = import_deck(http, video_id, deck)
        assert again.status_code == 200 and again.json()["script_id"] == done["script_id"]
        assert http.get(f"/api/v2/videos/{video_id}/decks").json()["total"] == 1
        assert http.get(f"/api/v2/videos/{video_id}/media").json()["total"] == 10
        refused = http.post(f"/api/v2/videos/{video_id}/scripts/{done['script_id']}/approve")
        assert refused.status_code == 422 and refused.json()["detail"]["scenes"] == list(range(10))

        # One to three sentences a page: each scene must last as long as its own narration.
        narrations = {
            index: " ".join(f"{index + 1}번 페이지의 {sentence}번째 문장입니다." for sentence in range(1, 2 + index % 3))
            for index in range(10)
        }
        narrated(http, video_id, script, narrations)
        video, subtitles = rendered_video(http, video_id, done["script_id"], tmp_path)

    pictures = distinct_pictures(video)
    assert len(pictures) == 10
    for picture, colour in zip(pictures, PAGE_COLOURS):
        assert near(picture.getpixel((100, 540)), colour) and near(picture.getpixel((960, 540)), (255, 255, 255))
    boundaries = scene_starts(cues(subtitles), list(narrations.values()))[1:]
    changes = picture_change_times(video)
    assert len(changes) == len(boundaries) == 9, (changes, boundaries)
    assert all(abs(change - boundary) <= 0.050 for change, boundary in zip(changes, boundaries)), (changes, boundaries)


@NEEDS_LIBREOFFICE
def test_a_pptx_deck_takes_its_narration_from_the_speaker_notes(stack: Stack, tmp_path):
    video_id = new_video_id("pptx-deck")
    deck = decks.pptx(
        [
            ((200, 30, 30), "Security basics", "첫 번째 슬라이드의 설명입니다."),
            ((30, 40, 200), "Hidden slide", "숨긴 슬라이드는 가져오지 않습니다."),
            ((30, 160, 40), "Passwords", "두 번째 슬라이드입니다. 비밀번호를 관리합니다."),
            ((220, 200, 20), "No notes", None),
        ],
        title="보안 교육",
        hidden=(1,),
    )
    with stack.client(timeout=180) as http:
        done = imported(http, import_deck(http, video_id, deck))
        script = done["script"]
        assert (done["source"], done["pages"], script["title"]) == ("pptx", 3, "보안 교육")
        assert [scene["narration"] for scene in script["scenes"]] == [
            "첫 번째 슬라이드의 설명입니다.",
            "두 번째 슬라이드입니다. 비밀번호를 관리합니다.",
            "",
        ]
        assert [scene["hint"] for scene in script["scenes"]] == ["Security basics", "Passwords", "No notes"]
        assert done["scenes_without_narration"] == [2]
        narrated(http, video_id, script, {2: "마지막 장면입니다."})
        video, _ = rendered_video(http, video_id, done["script_id"], tmp_path)

    pictures = distinct_pictures(video)
    assert len(pictures) == 3
    for picture, colour in zip(pictures, [(200, 30, 30), (30, 160, 40), (220, 200, 20)]):
        assert near(picture.getpixel((960, 900)), colour)


@NEEDS_LIBREOFFICE
@pytest.mark.skipif(
    not has_korean_font(),
    reason="no Korean font for LibreOffice (fc-list :lang=ko is empty; .ci/run installs fonts-nanum as root)",
)
def test_korean_slides_convert_with_their_own_glyphs(tmp_path):
    """The failure this guards against drew Hangul blank (the text layer intact) or as identical
    boxes: each syllable must leave ink, and different syllables different ink."""
    title = "비밀번호관리"
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(decks.pptx([((255, 255, 255), title, "설명")]))
    out = tmp_path / "out"
    out.mkdir()
    manifest = convert(
        "pptx",
        deck,
        out,
        max_pages=10,
        max_unzipped_bytes=10**8,
        frame=(1920, 1080),
        soffice="soffice",
        report=lambda event: None,
        wait_for_go=lambda: None,
    )
    assert manifest.pages[0].text == title
    page = Image.open(out / manifest.pages[0].file).convert("L")
    with pdfium.PdfDocument(out / "deck.pdf") as pdf:
        pdf_page = pdf[0]
        scale = page.width / pdf_page.get_size()[0]
        text_page = pdf_page.get_textpage()
        inks = []
        for index in range(len(title)):
            left, bottom, right, top = text_page.get_charbox(index)
            box = (
                round(left * scale),
                round(page.height - top * scale),
                round(right * scale),
                round(page.height - bottom * scale),
            )
            inks.append(sum(page.crop(box).point(lambda value: 255 if value < 128 else 0).histogram()[255:]))
    assert all(ink > 50 for ink in inks), f"syllables drawn without ink: {dict(zip(title, inks))}"
    assert len(set(inks)) >= len(title) - 1, f"syllables drawn alike (missing-glyph boxes): {dict(zip(title, inks))}"


BAD_DECKS = {  # name → (its bytes, made when the test runs: some take a second; status; error code)
    "10000-pages.pdf": (lambda: decks.pdf_of_pages(10_000), 422, "MEDIA_TOO_LARGE"),
    "locked.pdf": (lambda: decks.encrypted(decks.pdf([decks.coloured_page((0, 0, 0), "secret")])), 422, "MEDIA_INVALID"),
    "bomb.pptx": (decks.zip_bomb, 422, "MEDIA_TOO_LARGE"),
    "lying-bomb.pptx": (decks.lying_zip_bomb, 422, "MEDIA_INVALID"),
    "cut.pdf": (lambda: decks.pdf([decks.coloured_page((0, 0, 0), "cut")])[:300], 422, "MEDIA_INVALID"),
    "report.pptx": (decks.docx_like, 415, "UNSUPPORTED_MEDIA_TYPE"),
    "slides.ppt": (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), 415, "UNSUPPORTED_MEDIA_TYPE"),
    "page.pdf": (lambda: b"<!doctype html><html><body>not a deck</body></html>", 415, "UNSUPPORTED_MEDIA_TYPE"),
    "huge.pdf": (lambda: b"%PDF-1.4\n" + bytes(100 * 1024 * 1024), 413, "PAYLOAD_TOO_LARGE"),
}


@pytest.mark.parametrize("name", list(BAD_DECKS))
def test_bad_decks_are_refused_with_their_code_and_nothing_is_stored(stack: Stack, name):
    make, status, error_code = BAD_DECKS[name]
    video_id = new_video_id("bad-deck")
    with stack.client(timeout=120) as http:
        response = http.post(f"/api/v2/videos/{video_id}/decks", files={"file": (name, make(), "application/pdf")})
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error_code"] == error_code and body["message"], body
        assert http.get(f"/api/v2/videos/{video_id}/media").json()["total"] == 0
        assert http.get(f"/api/v2/videos/{video_id}/scripts").json()["total"] == 0
        assert not (stack.asset_dir / video_id).exists(), "a refused deck left files"
        assert http.get("/healthz").status_code == 200


SMALL_DECK_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def stack_without_libreoffice(tmp_path_factory) -> Stack:
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("no-libreoffice"),
        workers=1,
        extra_env={"DECK_SOFFICE": "slidereel-test-no-such-soffice", "DECK_MAX_BYTES": str(SMALL_DECK_LIMIT)},
    )
    with stack.running() as running:
        yield running


def test_a_pptx_without_libreoffice_is_refused_naming_it(stack_without_libreoffice: Stack):
    video_id = new_video_id("no-soffice")
    with stack_without_libreoffice.client(timeout=60) as http:
        response = import_deck(http, video_id, decks.pptx([((0, 0, 0), "x", "y")]))
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error_code"] == "DECK_CONVERTER_MISSING" and "LibreOffice" in body["message"]
        assert body["detail"]["missing"] == "LibreOffice"
        # A PDF needs no converter program: it still imports.
        imported(http, import_deck(http, video_id, decks.pdf([decks.coloured_page((0, 0, 0), "x")])))


@pytest.fixture(scope="module")
def stack_with_a_failing_libreoffice(tmp_path_factory) -> Stack:
    """`false` as LibreOffice: every PPTX passes the first checks, then its conversion fails."""
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("failing-libreoffice"),
        workers=1,
        extra_env={"DECK_SOFFICE": shutil.which("false") or "/bin/false"},
    )
    with stack.running() as running:
        yield running


def test_a_conversion_failing_after_acceptance_fails_the_import_which_may_begin_again(stack_with_a_failing_libreoffice):
    video_id = new_video_id("failing-deck")
    deck = decks.pptx([((0, 0, 0), "x", "y"), ((255, 255, 255), "z", None)])
    with stack_with_a_failing_libreoffice.client(timeout=60) as http:
        for attempt in range(2):  # a failed import is begun again by the same upload
            response = import_deck(http, video_id, deck)
            assert response.status_code == 202 and response.json()["pages"] == 2, (attempt, response.text)
            view = followed(http, response)
            assert (view["status"], view["error_code"], view["script_id"]) == ("FAILED", "MEDIA_INVALID", None), view
            assert "LibreOffice could not convert" in view["error_message"]
            assert view["error_detail"]["reason"] == "conversion"
        assert http.get(f"/api/v2/videos/{video_id}/media").json()["total"] == 0
        assert http.get(f"/api/v2/videos/{video_id}/scripts").json()["total"] == 0


def test_a_deck_past_the_limit_by_more_than_framing_is_refused_naming_the_setting(stack_without_libreoffice: Stack):
    """Refused by the framework before the handler runs (the router's limit is the upload limit
    plus multipart framing): the answer still names DECK_MAX_BYTES."""
    with stack_without_libreoffice.client(timeout=60) as http:
        response = import_deck(http, new_video_id("big-deck"), b"%PDF-1.4\n" + bytes(2 * SMALL_DECK_LIMIT))
        assert response.status_code == 413, response.text
        body = response.json()
        assert body["error_code"] == "PAYLOAD_TOO_LARGE" and "DECK_MAX_BYTES" in body["message"]
        assert body["detail"]["max_bytes"] == SMALL_DECK_LIMIT
        assert http.get("/healthz").status_code == 200

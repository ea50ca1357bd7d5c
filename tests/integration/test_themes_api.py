"""Themes through the real API (SPEC §8.3): stored whole and read back by role, listed a page at
a time, bad input refused with 422 naming the field and nothing stored; a theme's font and logo
must be a font and an image of any video; a script may only name a theme that exists, and a
Korean one only a theme whose font has Hangul; a job is drawn with the theme as it was when the
job was created, its media resolved to asset-store keys, whatever the theme becomes before a
renderer takes it.

One API with no renderer of its own: the job test plays the renderer on the real bus
(tests/faults/scripted_peer.py), so it sees the Render message the broker sends."""

import io
import uuid
from collections.abc import Iterator
from unittest.mock import ANY

import httpx
import msgspec
import pytest
from PIL import Image

from libs.contracts.theme import Theme, ThemeAssets
from libs.storage import media_key
from libs.tokens import Role
from services.api.media.font_reader import KS_X_1001_HANGUL
from tests.client import approved_script, new_video_id, start_render
from tests.faults.scripted_peer import next_render
from tests.integration.test_lexicon_api import scripted_worker
from tests.media_uploads import ASCII, built_font
from tests.stack import Stack

KOREAN = {"title": "브랜드", "language": "ko", "scenes": [{"narration": "안녕하세요.", "slide": {"title": "인사"}}]}
ENGLISH = {"title": "Brand", "language": "en", "scenes": [{"narration": "Hello.", "slide": {"title": "Hi"}}]}
DEFAULTS = msgspec.to_builtins(Theme())


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Stack]:
    """An API with no renderer: the job test's scripted peer is the only worker there is."""
    stack = Stack(data_dir=tmp_path_factory.mktemp("themes"), workers=0)
    with stack.running_api() as running:
        yield running


@pytest.fixture
def http(api) -> Iterator[httpx.Client]:
    with api.client(timeout=30) as client:
        yield client


def theme_path(theme_id: str) -> str:
    return f"/api/v2/themes/{theme_id}"


def new_theme_id(prefix: str = "theme") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def upload(http: httpx.Client, video_id: str, data: bytes) -> dict:
    response = http.post(f"/api/v2/videos/{video_id}/media", content=data)
    assert response.status_code == 201, response.text
    return response.json()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def media(api) -> dict[str, dict]:
    """A Latin-only font, a font with Hangul, and a logo, each uploaded to a video of its own."""
    with api.client(timeout=30) as http:
        return {
            "latin": upload(http, new_video_id("fonts"), built_font("Brand Latin", ASCII)),
            "hangul": upload(http, new_video_id("fonts"), built_font("Brand Hangul", [*ASCII, *KS_X_1001_HANGUL])),
            "logo": upload(http, new_video_id("logos"), png()),
        }


def assert_refused(response: httpx.Response, field: str, words: str = "") -> None:
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error_code"] == "VALIDATION_ERROR" and set(error) == {"error_code", "message", "detail"}
    assert error["detail"]["errors"][0]["field"] == field and error["message"].startswith(f"{field}: "), error
    assert words in error["message"], error


# --- the endpoints ---------------------------------------------------------------------


def test_a_theme_is_stored_whole_and_read_back(http, media):
    theme_id = new_theme_id()
    assert http.get(theme_path(theme_id)).status_code == 404
    body = {"background": "#000000", "accent": "#FF0000", "font": media["latin"]["media_id"], "logo": media["logo"]["media_id"]}

    created = http.put(theme_path(theme_id), json={**body, "logo_position": "bottom-left"})

    assert created.status_code == 201, created.text
    view = created.json()
    assert view == {
        **DEFAULTS,
        **body,
        "logo_position": "bottom-left",
        "theme_id": theme_id,
        "updated_at": view["updated_at"],
        "updated_by": "tests",
    }
    assert view["updated_at"].endswith("Z") and http.get(theme_path(theme_id)).json() == view
    replaced = http.put(theme_path(theme_id), json={"text": "#101010"})
    assert replaced.status_code == 200, replaced.text
    assert {name: replaced.json()[name] for name in DEFAULTS} == {**DEFAULTS, "text": "#101010"}, "a PUT replaces the whole theme"
    assert http.get(theme_path(theme_id)).json() == replaced.json()


def test_themes_are_listed_by_name_a_page_at_a_time(http):
    prefix = new_theme_id("list")
    for name in ("c", "a", "b"):
        assert http.put(theme_path(f"{prefix}-{name}"), json={}).status_code == 201
    total = http.get("/api/v2/themes", params={"limit": 1}).json()["total"]

    listed: list[str] = []
    for offset in range(0, total, 2):
        page = http.get("/api/v2/themes", params={"limit": 2, "offset": offset}).json()
        assert (page["total"], page["limit"], page["offset"]) == (total, 2, offset) and len(page["themes"]) <= 2
        listed += [theme["theme_id"] for theme in page["themes"]]

    assert listed == sorted(listed) and len(listed) == total == len(set(listed))
    assert [theme_id for theme_id in listed if theme_id.startswith(prefix)] == [f"{prefix}-{name}" for name in "abc"]


def test_an_unknown_theme_is_not_found(http):
    response = http.get(theme_path("no-such-theme"))
    assert response.status_code == 404 and response.json()["error_code"] == "THEME_NOT_FOUND", response.text
    assert response.json()["detail"] == {"theme_id": "no-such-theme"}


def test_viewers_read_themes_and_editors_write_them(api):
    theme_id = new_theme_id("roles")
    with api.client(Role.VIEWER, timeout=30) as viewer, api.client(Role.EDITOR, timeout=30) as editor:
        refused = viewer.put(theme_path(theme_id), json={})
        assert refused.status_code == 403 and refused.json()["error_code"] == "FORBIDDEN"
        assert editor.put(theme_path(theme_id), json={"accent": "#123456"}).status_code == 201
        assert viewer.get(theme_path(theme_id)).json()["accent"] == "#123456"
        assert viewer.get("/api/v2/themes").status_code == 200
    anonymous = httpx.get(f"{api.base_url}{theme_path(theme_id)}", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # The schema's own 422s name a field as Litestar does (no `$.`); the service's, below, as a JSON path.
        ({"background": "red"}, "background"),
        ({"text": "#12345"}, "text"),
        ({"accent": "#12345g"}, "accent"),
        ({"logo_position": "middle"}, "logo_position"),
        ({"font": "fonts/brand.ttf"}, "font"),
    ],
)
def test_bad_fields_are_refused_naming_the_field_and_nothing_is_stored(http, body, field):
    theme_id = new_theme_id("bad")
    before = http.put(theme_path(theme_id), json={"accent": "#abcdef"}).json()

    assert_refused(http.put(theme_path(theme_id), json=body), field)

    assert http.get(theme_path(theme_id)).json() == before, "a refused PUT changed the stored theme"


@pytest.mark.parametrize("theme_id", ["-leading-dash", "x" * 65, "dot.ted", "sp%20ace"])
def test_a_bad_theme_id_is_refused_naming_it(http, theme_id):
    response = http.put(theme_path(theme_id), json={})

    assert response.status_code == 422, response.text
    assert response.json()["detail"]["errors"][0] == {"field": "theme_id", "message": ANY, "source": "path"}


@pytest.mark.parametrize(
    ("field", "name", "words"),
    [
        ("font", None, "no video has media"),
        ("logo", None, "no video has media"),
        ("font", "logo", "is an image, not a font"),
        ("logo", "latin", "is a font, not an image"),
    ],
)
def test_a_font_or_logo_that_is_missing_or_of_another_kind_is_refused(http, media, field, name, words):
    theme_id = new_theme_id("media")
    media_id = media[name]["media_id"] if name else "med-" + "0" * 32

    assert_refused(http.put(theme_path(theme_id), json={field: media_id}), f"$.{field}", words)

    assert http.get(theme_path(theme_id)).status_code == 404, "a refused PUT stored the theme"


# --- scripts naming a theme ------------------------------------------------------------


def put_script(http: httpx.Client, script: dict) -> httpx.Response:
    return http.put(f"/api/v2/videos/{new_video_id('themed')}/scripts/script-001", json=script)


def test_a_script_naming_a_theme_that_does_not_exist_is_refused_at_save(http):
    assert_refused(put_script(http, {**ENGLISH, "theme": new_theme_id("missing")}), "$.theme", "no theme")


def test_a_korean_script_needs_a_theme_whose_font_has_hangul(http, media):
    latin, hangul = new_theme_id("latin"), new_theme_id("hangul")
    http.put(theme_path(latin), json={"font": media["latin"]["media_id"]}).raise_for_status()
    http.put(theme_path(hangul), json={"font": media["hangul"]["media_id"]}).raise_for_status()

    refused = put_script(http, {**KOREAN, "theme": latin})

    font = media["latin"]["media_id"]
    assert_refused(refused, "$.theme", f"theme '{latin}' uses font {font} (Brand Latin) which has no Hangul")
    assert put_script(http, {**KOREAN, "theme": hangul}).status_code == 201
    assert put_script(http, {**ENGLISH, "theme": latin}).status_code == 201, "an English script may use it"
    assert_refused(put_script(http, {**KOREAN, "language": "ko-KR", "theme": latin}), "$.theme", "no Hangul")
    plain = new_theme_id("plain")
    http.put(theme_path(plain), json={}).raise_for_status()
    assert put_script(http, {**KOREAN, "theme": plain}).status_code == 201, "the bundled font has Hangul"


# --- a job's theme, played on the bus ---------------------------------------------------


def test_a_job_is_drawn_with_the_theme_it_was_created_with(api, http, media):
    theme_id, video_id = new_theme_id("snapshot"), new_video_id("themed-job")
    first = {"accent": "#00aa00", "font": media["hangul"]["media_id"], "logo": media["logo"]["media_id"]}
    http.put(theme_path(theme_id), json=first).raise_for_status()
    job_id = start_render(http, video_id, approved_script(http, video_id, {**KOREAN, "theme": theme_id}))["job_id"]
    # Replaced while the job waits for a worker: the job must not see it.
    http.put(theme_path(theme_id), json={"accent": "#aa0000"}).raise_for_status()

    with scripted_worker(api, "peer-theme", ["espeak"]) as dealer:
        render = next_render(dealer)

    assert render.job_id == job_id and render.script.theme == theme_id
    assert render.theme == ThemeAssets(
        theme=Theme(accent="#00aa00", font=media["hangul"]["media_id"], logo=media["logo"]["media_id"]),
        font_key=media_key(media["hangul"]["video_id"], media["hangul"]["media_id"]),
        logo_key=media_key(media["logo"]["video_id"], media["logo"]["media_id"]),
    )

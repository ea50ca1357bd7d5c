"""The slide's `layout` in the script contract (SPEC §8.3): each layout takes only the fields it
shows, and a script written before layouts validates and means what it always meant."""

import msgspec
import pytest

from libs.contracts.script import MAX_QUOTE_CHARS, MAX_SUBTITLE_CHARS, Script, Slide

MEDIA = "med-" + "0" * 32


def decode_slide(slide: dict) -> Slide:
    body = {"title": "t", "scenes": [{"narration": "안녕하세요.", "slide": slide}]}
    return msgspec.json.decode(msgspec.json.encode(body), type=Script).scenes[0].slide


@pytest.mark.parametrize(
    ("slide", "layout"),
    [
        ({}, "bullets"),
        ({"title": "제목", "bullets": ["하나"]}, "bullets"),
        ({"image": MEDIA, "title": "사진", "caption": "설명", "motion": "zoom-in"}, "image"),
        ({"layout": "title", "title": "제목", "subtitle": "부제"}, "title"),
        ({"layout": "section", "title": "2부"}, "section"),
        ({"layout": "image-left", "image": MEDIA, "title": "옆", "bullets": ["하나"], "fit": "cover"}, "image-left"),
        ({"layout": "image-right", "image": MEDIA}, "image-right"),
        ({"layout": "quote", "quote": "인용", "attribution": "누구", "background": "#ffffff"}, "quote"),
    ],
)
def test_each_layout_takes_its_fields_and_a_slide_without_one_keeps_its_old_meaning(slide, layout):
    assert decode_slide(slide).shown_layout == layout


@pytest.mark.parametrize(
    ("slide", "message"),
    [
        ({"layout": "quote", "quote": "인용", "title": "제목"}, "the quote layout shows `quote` and `attribution`, not `title`"),
        ({"layout": "section", "title": "2부", "bullets": ["하나"]}, "the section layout shows `title`, not `bullets`"),
        ({"layout": "title", "caption": "설명"}, "the title layout shows `title` and `subtitle`, not `caption`"),
        ({"layout": "bullets", "image": MEDIA}, "the bullets layout shows `title` and `bullets`, not `image`"),
        ({"subtitle": "부제"}, "the bullets layout shows `title` and `bullets`, not `subtitle`"),
        ({"layout": "image-left", "title": "옆"}, "the image-left layout needs `image`"),
        ({"layout": "image", "title": "사진"}, "the image layout needs `image`"),
        ({"layout": "image-right", "image": MEDIA, "motion": "zoom-in", "quote": "q"}, "not `motion` or `quote`"),
        (
            {"layout": "image", "image": MEDIA, "bullets": ["하나"]},
            "shows `image`, `title`, `caption` and `motion`, not `bullets`",
        ),
        # Scripts without a layout keep the messages they always got.
        ({"image": MEDIA, "bullets": ["하나"]}, "an image slide shows a title and a caption, not bullets"),
        ({"caption": "설명"}, "a caption belongs to an image slide (set `image`)"),
        ({"motion": "zoom-in"}, "motion belongs to an image slide (set `image`)"),
    ],
)
def test_a_field_the_layout_does_not_show_is_refused_by_name(slide, message):
    with pytest.raises(msgspec.ValidationError, match=r"scenes\[0\]\.slide") as refused:
        decode_slide(slide)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("slide", "field"),
    [
        ({"layout": "title", "subtitle": "x" * (MAX_SUBTITLE_CHARS + 1)}, "subtitle"),
        ({"layout": "quote", "quote": "x" * (MAX_QUOTE_CHARS + 1)}, "quote"),
        ({"layout": "gallery"}, "layout"),
    ],
)
def test_new_fields_have_limits(slide, field):
    with pytest.raises(msgspec.ValidationError, match=f"scenes\\[0\\].slide.{field}"):
        decode_slide(slide)

"""Slides of one statement, centred in their box and shrunk until all of it fits: "title" (a large
title, an accent rule, the subtitle), "section" (a bold title on a full-width accent band) and
"quote" (the quote beside an accent bar, its attribution below)."""

from libs.contracts.script import Slide
from services.renderer.fonts import BOLD, REGULAR, FontBook
from services.renderer.slide_text import Box, PlacedLine, Shape, SlideLayout, largest_fitting, place_paragraph, visible

TITLE_SLIDE_SIZE = 0.09
"""A title slide's title size, as a fraction of the frame's short side, before shrinking to fit."""
SUBTITLE_SCALE = 0.5
RULE_WIDTH = 0.14
"""The accent rule between a title and its subtitle, as a fraction of the short side."""
SECTION_SIZE = 0.075
SECTION_BAND_PADDING = 0.7
"""Band space above and below a section's title, as a fraction of its text size."""
QUOTE_SIZE = 0.075
ATTRIBUTION_SCALE = 0.55
QUOTE_BAR = 0.012
"""The accent bar's width beside a quote, as a fraction of the short side; the gap is twice it."""
ATTRIBUTION_DASH = "— "


def layout_title_slide(slide: Slide, box: Box, frame: tuple[int, int], fonts: FontBook) -> SlideLayout:
    title, subtitle = visible(slide.title), visible(slide.subtitle)
    rule_width = min(box.width, round(min(frame) * RULE_WIDTH))

    def arrange(px: int) -> SlideLayout:
        lines: list[PlacedLine] = []
        shapes = []
        y = box.top
        if title:
            y = place_paragraph(title, fonts.mixed(px, BOLD), box.left, box.right, y, lines, centred=True)
        if title and subtitle:
            y += round(px * 0.35)
            left = box.left + (box.width - rule_width) // 2
            rule_height = max(2, round(px * 0.07))
            shapes.append(Shape(Box(left, y, left + rule_width, y + rule_height), "accent"))
            y += rule_height + round(px * 0.45)
        if subtitle:
            font = fonts.mixed(round(px * SUBTITLE_SCALE), REGULAR)
            y = place_paragraph(subtitle, font, box.left, box.right, y, lines, centred=True)
        return SlideLayout(lines=lines, bottom=y, shapes=shapes)

    return largest_fitting(arrange, round(min(frame) * TITLE_SLIDE_SIZE), box.bottom).centred_in(box)


def layout_section(slide: Slide, box: Box, frame: tuple[int, int], fonts: FontBook) -> SlideLayout:
    """The band runs from edge to edge of the frame; its title stays inside `box`."""
    title = visible(slide.title)
    if not title:
        return SlideLayout(lines=[], bottom=box.top)

    def arrange(px: int) -> SlideLayout:
        padding = round(px * SECTION_BAND_PADDING)
        lines: list[PlacedLine] = []
        text_bottom = place_paragraph(
            title, fonts.mixed(px, BOLD), box.left, box.right, box.top + padding, lines, centred=True, ink="on-accent"
        )
        band = Box(0, box.top, frame[0], text_bottom + padding)
        return SlideLayout(lines=lines, bottom=band.bottom, shapes=[Shape(band, "accent")])

    return largest_fitting(arrange, round(min(frame) * SECTION_SIZE), box.bottom).centred_in(box)


def layout_quote(slide: Slide, box: Box, frame: tuple[int, int], fonts: FontBook) -> SlideLayout:
    quote, attribution = visible(slide.quote), visible(slide.attribution)
    bar_width = max(2, round(min(frame) * QUOTE_BAR))
    text_left = box.left + 3 * bar_width

    def arrange(px: int) -> SlideLayout:
        lines: list[PlacedLine] = []
        y = box.top
        if quote:
            y = place_paragraph(quote, fonts.mixed(px, REGULAR), text_left, box.right, y, lines)
        if attribution:
            y += round(px * 0.5) if quote else 0
            font = fonts.mixed(round(px * ATTRIBUTION_SCALE), BOLD)
            y = place_paragraph(ATTRIBUTION_DASH + attribution, font, text_left, box.right, y, lines)
        bar = [Shape(Box(box.left, box.top, box.left + bar_width, y), "accent")] if lines else []
        return SlideLayout(lines=lines, bottom=y, shapes=bar)

    return largest_fitting(arrange, round(min(frame) * QUOTE_SIZE), box.bottom).centred_in(box)

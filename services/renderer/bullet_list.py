"""A bold title over bullets, wrapped and shrunk until all of it fits a box: the "bullets" slide,
and the text beside the picture of "image-left" and "image-right"."""

from services.renderer.fonts import BOLD, REGULAR, FontBook
from services.renderer.slide_text import Box, PlacedLine, SlideLayout, largest_fitting, place_paragraph, visible

BODY_SIZE = 0.048
"""Bullet text size as a fraction of the frame's short side, before shrinking to fit: text is as
large in a 1080-wide 9:16 frame as in a 1080-high 16:9 one, not scaled up by a tall frame's height."""
TITLE_SCALE = 1.6
BULLET = "•"


def layout_bullet_list(title: str, bullets: list[str], box: Box, frame: tuple[int, int], fonts: FontBook) -> SlideLayout:
    """The largest text size, up to BODY_SIZE of the `frame`'s short side, at which the title and
    bullets fit inside `box`, from its top."""
    title = visible(title)
    shown = [text for text in map(visible, bullets) if text]
    return largest_fitting(lambda body_px: _arrange(title, shown, box, body_px, fonts), round(min(frame) * BODY_SIZE), box.bottom)


def _arrange(title: str, bullets: list[str], box: Box, body_px: int, fonts: FontBook) -> SlideLayout:
    y = box.top
    lines: list[PlacedLine] = []
    gap = 0
    if title:
        y = place_paragraph(title, fonts.mixed(round(body_px * TITLE_SCALE), BOLD), box.left, box.right, y, lines)
        gap = round(body_px * 0.8)
    body_font = fonts.mixed(body_px, REGULAR)
    indent = round(body_px * 1.2)
    for bullet in bullets:
        y += gap
        lines.append(PlacedLine(BULLET, body_font, (box.left, y), "mark"))
        y = place_paragraph(bullet, body_font, box.left + indent, box.right, y, lines)
        gap = round(body_px * 0.35)
    return SlideLayout(lines=lines, bottom=y)

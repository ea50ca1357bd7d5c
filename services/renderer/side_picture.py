"""Where "image-left" and "image-right" put their picture and their text: the picture fills one
half of the frame, edge to edge, and the title and bullets sit in the other, centred in its
height. A frame no wider than tall (9:16, 4:5, 1:1) is split across instead, as a phone's feed
shows it: image-left's picture on top, image-right's below."""

from libs.contracts.script import Layout
from services.renderer.slide_text import MARGIN_X, MARGIN_Y, Box, margin_box


def side_boxes(layout: Layout, size: tuple[int, int]) -> tuple[Box, Box]:
    """The part of the frame the picture fills, and the box of the text in the other part."""
    width, height = size
    picture_first = layout == "image-left"
    if width > height:
        halves = (Box(0, 0, width // 2, height), Box(width // 2, 0, width, height))
    else:
        halves = (Box(0, 0, width, height // 2), Box(0, height // 2, width, height))
    picture, text_part = halves if picture_first else halves[::-1]
    # The text keeps the frame's margins, and as much room from the picture as from the frame's edges.
    inset_x, inset_y = round(width * MARGIN_X), round(text_part.height * MARGIN_Y)
    frame = margin_box(size)
    text = Box(
        max(frame.left, text_part.left + inset_x),
        max(frame.top, text_part.top + inset_y),
        min(frame.right, text_part.right - inset_x),
        min(frame.bottom, text_part.bottom - inset_y),
    )
    return picture, text

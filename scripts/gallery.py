"""Draws every slide layout in every video format (SPEC §8.3) with a sample theme into docs/gallery/
as {layout}-{format}.png, and docs/gallery/README.md showing them side by side.

The slides are drawn as the renderer draws them at RENDER_RESOLUTION=640x360 (360 px on the
short side, which keeps the repository small), in the bundled font, with a generated logo and
picture and Korean sample text. Run it again after changing how slides look:

    .venv/bin/python scripts/gallery.py
"""

import tempfile
from pathlib import Path
from typing import get_args

from PIL import Image, ImageDraw

from libs.contracts.script import Layout, Slide, VideoFormatName
from libs.contracts.theme import Theme
from libs.frames import frame_size
from services.renderer.fonts import FontBook
from services.renderer.logo import Logo
from services.renderer.slides import Look, draw_slide

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "gallery"
RESOLUTION = (640, 360)
FORMATS: tuple[VideoFormatName, ...] = get_args(VideoFormatName)
THEME = Theme(background="#13315c", text="#f4f1ea", accent="#f2a541", logo_position="top-right")
PICTURE_ID = "med-" + "0" * 32
SAMPLES: dict[Layout, Slide] = {
    "bullets": Slide(
        layout="bullets",
        title="3분기 실적 요약",
        bullets=["매출이 작년보다 18% 늘었습니다 📈", "신규 고객 1,200곳", "해외 매출 비중 35%"],
    ),
    "title": Slide(layout="title", title="2027 제품 로드맵", subtitle="slidereel 팀 · 1월 전체 회의"),
    "section": Slide(layout="section", title="2부 · 고객 이야기"),
    "image": Slide(
        layout="image", image=PICTURE_ID, fit="cover", title="제주 지사 개소", caption="2026년 11월, 새 사무실 앞에서"
    ),
    "image-left": Slide(
        layout="image-left", image=PICTURE_ID, fit="cover", title="현장 점검", bullets=["안전 장비 확인", "작업 구역 정리"]
    ),
    "image-right": Slide(
        layout="image-right", image=PICTURE_ID, fit="cover", title="현장 점검", bullets=["안전 장비 확인", "작업 구역 정리"]
    ),
    "quote": Slide(layout="quote", quote="좋은 설명은 짧고, 좋은 영상은 더 짧다.", attribution="김지윤, 교육팀장"),
}


def sample_logo() -> Image.Image:
    """A transparent PNG-like logo: a round badge with a play mark."""
    logo = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.ellipse((8, 8, 232, 232), fill="#f2a541")
    draw.polygon([(92, 64), (92, 176), (184, 120)], fill="#13315c")
    return logo


def sample_picture() -> Image.Image:
    """A landscape of flat colours (a photo would make the PNGs ten times larger)."""
    picture = Image.new("RGB", (1600, 1000), "#8ecae6")
    draw = ImageDraw.Draw(picture)
    draw.ellipse((260, 120, 460, 320), fill="#ffd166")
    draw.polygon([(0, 760), (420, 360), (860, 760)], fill="#2a9d8f")
    draw.polygon([(500, 760), (1000, 300), (1600, 760)], fill="#264653")
    draw.rectangle((0, 740, 1600, 1000), fill="#6a994e")
    return picture


def draw_gallery(folder: Path) -> list[str]:
    """Writes every layout × format into `folder`; returns the file names."""
    fonts = FontBook()
    look = Look(theme=THEME, logo=Logo(sample_logo(), THEME.logo_position))
    names = []
    with tempfile.TemporaryDirectory() as scratch:
        picture = Path(scratch) / "picture.png"
        sample_picture().save(picture)
        for layout, slide in SAMPLES.items():
            for format_name in FORMATS:
                name = f"{layout}-{_file_part(format_name)}.png"
                size = frame_size(format_name, RESOLUTION)
                draw_slide(slide, size, fonts, {PICTURE_ID: picture}, look).save(folder / name, optimize=True)
                names.append(name)
    return names


def readme() -> str:
    rows = [
        "# Slide layouts",
        "",
        "Every slide layout (SPEC §8.3) in every video format, with a sample theme (colours, the bundled",
        "font, a logo at the top right) as the renderer draws it at `RENDER_RESOLUTION=640x360`.",
        "Made by `.venv/bin/python scripts/gallery.py`; run it again after changing how slides look.",
        "",
        "| layout | " + " | ".join(FORMATS) + " |",
        "|---" * (len(FORMATS) + 1) + "|",
    ]
    for layout in SAMPLES:
        cells = [f'<img src="{layout}-{_file_part(name)}.png" alt="{layout}, {name}" width="180">' for name in FORMATS]
        rows.append(f"| `{layout}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _file_part(format_name: str) -> str:
    return format_name.replace(":", "x")


def main() -> None:
    GALLERY.mkdir(parents=True, exist_ok=True)
    names = draw_gallery(GALLERY)
    (GALLERY / "README.md").write_text(readme(), encoding="utf-8")
    print(f"wrote {len(names)} slides and README.md to {GALLERY}")


if __name__ == "__main__":
    main()

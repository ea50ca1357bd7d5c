"""Example request bodies in the OpenAPI document (SPEC §8.4), one per main body, each a valid
request: tests/contract/test_openapi_document.py checks them against their own schemas."""

from typing import Annotated, Any

from litestar.openapi.spec import Example
from litestar.params import Body

from libs.contracts.script import Script
from libs.contracts.theme import Theme
from services.api.jobs.schemas import CreateRenderJob
from services.api.lexicon.schemas import LexiconBody
from services.api.scripts.schemas import ScenePreviewBody
from services.api.voices.schemas import VoicePreviewBody


def example_body(summary: str, value: dict[str, Any]) -> Any:
    """A `Body` marker carrying one example, for `Annotated[BodyType, example_body(...)]`."""
    return Body(examples=[Example(summary=summary, value=value)])


ScriptBody = Annotated[
    Script,
    example_body(
        "A two-scene Korean explainer, vertical, with a fade and burned-in captions",
        {
            "title": "새 대시보드 소개",
            "language": "ko",
            "voice": "espeak#ko",
            "format": "9:16",
            "transition": {"type": "fade", "duration_sec": 0.4},
            "captions": {"burn_in": True},
            "scenes": [
                {
                    "narration": "안녕하세요. 오늘은 새 대시보드를 소개합니다.",
                    "slide": {"layout": "title", "title": "새 대시보드", "subtitle": "3분 안에 살펴보기"},
                },
                {
                    "narration": "왼쪽 메뉴에서 보고서를 고르고, 오른쪽 위에서 기간을 바꿉니다.",
                    "slide": {"layout": "bullets", "title": "사용 방법", "bullets": ["보고서 고르기", "기간 바꾸기"]},
                    "pause_sec": 0.8,
                },
            ],
        },
    ),
]
RenderJobBody = Annotated[CreateRenderJob, example_body("Render the approved script-001", {"script_id": "script-001"})]
ThemeBody = Annotated[
    Theme,
    example_body(
        "A brand's colours with the bundled font and no logo",
        {"background": "#0b1f3a", "text": "#ffffff", "accent": "#ffb300", "logo_position": "top-right"},
    ),
]
LexiconPutBody = Annotated[
    LexiconBody,
    example_body(
        "How two product names are said",
        {"entries": [{"term": "Slidereel", "say": "슬라이드릴"}, {"term": "API", "say": "에이피아이"}]},
    ),
]
VoicePreviewRequest = Annotated[
    VoicePreviewBody,
    example_body("One sentence in espeak's Korean", {"voice": "espeak#ko", "language": "ko", "text": "안녕하세요."}),
]
ScenePreviewRequest = Annotated[ScenePreviewBody, example_body("The script's first scene", {"scene": 0})]

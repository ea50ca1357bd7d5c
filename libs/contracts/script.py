"""The script a video says and shows (SPEC §1), with its limits as msgspec constraints.

These Structs are both the HTTP request body and part of the `Render` bus message, so they
follow the bus evolution rules: new fields get defaults, unknown fields are skipped.
"""

import unicodedata
from collections.abc import Iterable
from typing import Annotated, Literal

import msgspec

MAX_SCENES = 200
MAX_NARRATION_CHARS = 5_000
MAX_TOTAL_NARRATION_CHARS = 100_000
MAX_TITLE_CHARS = 200
MAX_BULLETS = 12
MAX_BULLET_CHARS = 300
DEFAULT_PAUSE_SEC = 0.4
MAX_CAPTION_CHARS = 300
MAX_SUBTITLE_CHARS = 300
MAX_QUOTE_CHARS = 500
MAX_ATTRIBUTION_CHARS = 200
MAX_HINT_CHARS = 5_000
MAX_LEXICON_ENTRIES = 1_000
MAX_LEXICON_TERM_CHARS = 100
MAX_LEXICON_SAY_CHARS = 200
MIN_RATE, MAX_RATE = 0.5, 2.0

MediaId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^med-[0-9a-f]{32}$",
        description="A file uploaded to the video's media (POST …/media): an image, a font or audio.",
        examples=["med-0f3c2a9d8e7b6a5f4e3d2c1b0a998877"],
    ),
]
Layout = Literal["bullets", "title", "section", "image", "image-left", "image-right", "quote"]
"""How a slide arranges what it shows (SPEC §8.3); each layout takes only the fields in LAYOUT_FIELDS."""
LAYOUT_FIELDS: dict[str, tuple[str, ...]] = {
    "bullets": ("title", "bullets"),
    "title": ("title", "subtitle"),
    "section": ("title",),
    "image": ("image", "title", "caption", "motion"),
    "image-left": ("image", "title", "bullets"),
    "image-right": ("image", "title", "bullets"),
    "quote": ("quote", "attribution"),
}
PICTURE_LAYOUTS = frozenset(layout for layout, fields in LAYOUT_FIELDS.items() if "image" in fields)
Fit = Literal["contain", "cover"]
"""contain: the whole picture, letterboxed in the slide background; cover: fills the frame, cropped."""
Motion = Literal["none", "zoom-in"]
"""none: the picture holds still (one frame for the scene); zoom-in: it slowly grows through the
scene, drawn at MOTION_FPS (or the video's constant rate) while it moves, title and caption
bands holding still."""
MOTION_FPS = 30
HexColor = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#1e2a4a"])]
LANGUAGE_TAG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
LanguageTag = Annotated[
    str,
    msgspec.Meta(
        pattern=LANGUAGE_TAG_PATTERN,
        description="BCP-47 tag; its primary subtag picks the TTS voice and line breaking.",
        examples=["ko", "en"],
    ),
]


Rate = Annotated[
    float,
    msgspec.Meta(
        ge=MIN_RATE,
        le=MAX_RATE,
        description="Speaking rate: 1.0 is the voice's own pace, 2.0 twice as fast.",
    ),
]
VoiceSpecText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100,
        description="ENGINE[:MODEL][#VOICE], e.g. azure#ko-KR-SunHiNeural (GET /api/v2/voices).",
    ),
]


class LexiconEntry(msgspec.Struct, kw_only=True, frozen=True):
    """How to say a term: applied to what is spoken, never to captions (SPEC §8.1)."""

    term: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LEXICON_TERM_CHARS, examples=["API"])]
    say: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LEXICON_SAY_CHARS, examples=["에이피아이"])]
    case_sensitive: bool = False


Lexicon = Annotated[list[LexiconEntry], msgspec.Meta(max_length=MAX_LEXICON_ENTRIES)]


def lexicon_problem(entries: Iterable[LexiconEntry], path: str) -> str | None:
    """What is wrong with the first entry the limits alone let through, or None; `path` is the
    list's JSON path, for the message (msgspec reports it as the failing location).

    A blank term can match nothing a reader would call a word, and a blank `say` would leave
    the sentence silent where the term stood. Two entries the pronouncer would file under the
    same term (libs/lexicon.py: case folded unless case-sensitive) would drop one without a
    word, so the second is refused instead of being silently ignored."""
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if is_blank(entry.term):
            return f"a term needs a visible character - at `{path}[{index}].term`"
        if is_blank(entry.say):
            return f"`say` needs something to speak - at `{path}[{index}].say`"
        key = entry.term if entry.case_sensitive else entry.term.casefold()
        if key in first_index:
            return f"{entry.term!r} is already entries[{first_index[key]}] - at `{path}[{index}].term`"
        first_index[key] = index
    return None


class Slide(msgspec.Struct, kw_only=True):
    """What a scene shows, arranged by its `layout`: a title and bullets; a title slide; a section
    title; the video's own picture (`image`) fitted to the frame, with an optional title on top
    and caption below, or beside a title and bullets; or a quote.

    Without `layout` (every script written before layouts existed) a slide with `image` is the
    "image" layout and one without is "bullets", as they always were drawn."""

    layout: Layout | None = None
    title: Annotated[str, msgspec.Meta(max_length=MAX_TITLE_CHARS)] = ""
    subtitle: Annotated[str, msgspec.Meta(max_length=MAX_SUBTITLE_CHARS)] = ""
    bullets: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=MAX_BULLET_CHARS)]],
        msgspec.Meta(max_length=MAX_BULLETS),
    ] = []
    background: HexColor | None = None
    image: MediaId | None = None
    fit: Fit = "contain"
    caption: Annotated[str, msgspec.Meta(max_length=MAX_CAPTION_CHARS)] = ""
    motion: Motion = "none"
    quote: Annotated[str, msgspec.Meta(max_length=MAX_QUOTE_CHARS)] = ""
    attribution: Annotated[str, msgspec.Meta(max_length=MAX_ATTRIBUTION_CHARS)] = ""

    def __post_init__(self) -> None:
        if self.layout is None:
            self._check_unnamed_layout()
        shown = LAYOUT_FIELDS[self.shown_layout]
        extra = [name for name in self._fields_set() if name not in shown]
        if extra:
            raise ValueError(f"the {self.shown_layout} layout shows {_listed(shown, 'and')}, not {_listed(extra, 'or')}")
        if self.shown_layout in PICTURE_LAYOUTS and self.image is None:
            raise ValueError(f"the {self.shown_layout} layout needs `image`")

    @property
    def shown_layout(self) -> Layout:
        """`layout`, or the one a slide without it always had: "image" with a picture, else "bullets"."""
        if self.layout is not None:
            return self.layout
        return "bullets" if self.image is None else "image"

    def _check_unnamed_layout(self) -> None:
        """The messages scripts without `layout` always got, which tell how to fix them in their terms."""
        if self.image is not None and self.bullets:
            raise ValueError("an image slide shows a title and a caption, not bullets")
        if self.image is None and self.caption:
            raise ValueError("a caption belongs to an image slide (set `image`)")
        if self.image is None and self.motion != "none":
            raise ValueError("motion belongs to an image slide (set `image`)")

    def _fields_set(self) -> list[str]:
        """The names of the fields a layout may show or ignore that differ from their defaults."""
        values = {
            "title": self.title,
            "subtitle": self.subtitle,
            "bullets": self.bullets,
            "image": self.image,
            "caption": self.caption,
            "motion": self.motion != "none",
            "quote": self.quote,
            "attribution": self.attribution,
        }
        return [name for name, value in values.items() if value]


def _listed(names: Iterable[str], conjunction: str) -> str:
    """Field names as a message lists them: "`a`, `b` and `c`"."""
    quoted = [f"`{name}`" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"


def is_blank(text: str) -> bool:
    """True when nothing in `text` can be read or spoken (spaces, controls, zero-width marks)."""
    return all(unicodedata.category(char)[0] in "ZC" for char in text)


class Scene(msgspec.Struct, kw_only=True):
    narration: Annotated[
        str,
        msgspec.Meta(
            max_length=MAX_NARRATION_CHARS,
            description=(
                "What the scene says. A DRAFT may leave it blank (an imported deck page without speaker "
                "notes); approval refuses a script with a blank scene (NARRATION_MISSING)."
            ),
        ),
    ]
    slide: Slide = msgspec.field(default_factory=Slide)
    pause_sec: Annotated[float, msgspec.Meta(ge=0, le=10)] = DEFAULT_PAUSE_SEC
    hint: Annotated[
        str,
        msgspec.Meta(
            max_length=MAX_HINT_CHARS,
            description=(
                "Not spoken or shown: a note for whoever writes the narration, such as the text of the "
                "deck page this scene was imported from."
            ),
        ),
    ] = ""
    rate: Rate = 1.0
    """Multiplies the script's rate for this scene (the product is kept within 0.5-2.0)."""
    chapter: Annotated[
        str,
        msgspec.Meta(
            max_length=MAX_TITLE_CHARS,
            description='This scene\'s chapter title in chapters.vtt; blank: its slide title, else "Scene N".',
        ),
    ] = ""


class Captions(msgspec.Struct, kw_only=True, frozen=True):
    """What the captions carry (SPEC §8.2)."""

    words: bool = True
    """subtitles.vtt times each word (WebVTT inline timestamps), and the assets gain words.json."""
    burn_in: bool = False
    """The captions are drawn over the slides."""
    highlight: bool = False
    """Burned-in captions mark the word being spoken."""

    def __post_init__(self) -> None:
        if self.highlight and not self.burn_in:
            raise ValueError("`highlight` marks the spoken word in burned-in captions: set `burn_in` too")


THEME_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ThemeId = Annotated[str, msgspec.Meta(pattern=THEME_ID_PATTERN, description="Letters, digits, _ and -.", examples=["acme"])]
VideoFormatName = Literal["16:9", "9:16", "1:1", "4:5"]
FORMAT_SIZES: dict[str, tuple[int, int]] = {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080), "4:5": (1080, 1350)}
"""Each format's frame at full size (SPEC §8.3); RENDER_RESOLUTION scales them all alike."""
TransitionType = Literal["cut", "fade", "slide"]
MAX_TRANSITION_SEC = 2.0


class Transition(msgspec.Struct, kw_only=True, frozen=True):
    """How one slide gives way to the next (SPEC §8.3): inside the scene pause, so no sound moves."""

    type: TransitionType = "cut"
    duration_sec: Annotated[float, msgspec.Meta(gt=0, le=MAX_TRANSITION_SEC)] = 0.4
    """At most the pause before the next scene: a shorter pause shortens its transition."""


class Music(msgspec.Struct, kw_only=True, frozen=True):
    """A bed under the whole video (SPEC §8.3): looped or cut to its length, faded in and out,
    lowered by `duck_db` while the narration speaks."""

    media: MediaId
    volume_db: Annotated[float, msgspec.Meta(ge=-60, le=0, description="The bed's level where nothing is said.")] = -18.0
    duck_db: Annotated[float, msgspec.Meta(ge=-40, le=0, description="How far the bed drops while the narration speaks.")] = -12.0
    fade_sec: Annotated[float, msgspec.Meta(ge=0, le=10, description="Fade in at the start, out at the end.")] = 2.0


class Script(msgspec.Struct, kw_only=True):
    title: Annotated[str, msgspec.Meta(max_length=MAX_TITLE_CHARS)]
    language: LanguageTag = "ko"
    voice: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    scenes: Annotated[list[Scene], msgspec.Meta(min_length=1, max_length=MAX_SCENES)]
    rate: Rate = 1.0
    voice_fallback: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=100,
            description=(
                '"fail": a job whose voice cannot be used fails TTS_FAILED; or a voice spec that then voices '
                "the whole video (never two voices in one video)."
            ),
        ),
    ] = "fail"
    captions: Captions = Captions()
    lexicon: Lexicon | None = None
    """This script's pronunciations; None: the video's lexicon (PUT …/lexicon). Its entries win over the video's."""
    format: VideoFormatName = "16:9"
    theme: ThemeId | None = None
    """The look its slides are drawn with (PUT /api/v2/themes/{theme_id}); None: the default one."""
    transition: Transition = Transition()
    music: Music | None = None

    def __post_init__(self) -> None:
        # A cross-field limit msgspec.Meta cannot express; msgspec reports it as a ValidationError.
        total = sum(len(scene.narration) for scene in self.scenes)
        if total > MAX_TOTAL_NARRATION_CHARS:
            raise ValueError(f"total narration is {total} characters, more than {MAX_TOTAL_NARRATION_CHARS} - at `$.scenes`")
        problem = lexicon_problem(self.lexicon or [], "$.lexicon")
        if problem is not None:
            raise ValueError(problem)

    def scenes_without_narration(self) -> list[int]:
        """The 0-based indexes of the scenes with nothing to speak; none may be left to approve."""
        return [index for index, scene in enumerate(self.scenes) if is_blank(scene.narration)]

    @property
    def primary_language(self) -> str:
        return self.language.split("-", 1)[0].lower()

    def scene_rate(self, scene: Scene) -> float:
        return min(max(self.rate * scene.rate, MIN_RATE), MAX_RATE)

    @property
    def fallback_voice(self) -> str | None:
        return None if self.voice_fallback == "fail" else self.voice_fallback

"""chapters.vtt (SPEC §8.2): one cue per scene, back to back, each covering the scene's whole
time on screen (its pause included), titled by its `chapter`, else its slide title, else "Scene N"."""

from libs.contracts.script import Scene, is_blank
from services.renderer.subtitles import Cue, to_vtt


def chapter_title(scene: Scene, number: int) -> str:
    for title in (scene.chapter, scene.slide.title):
        if not is_blank(title):
            # A cue's text is one line here: a title's line breaks would end the cue early in some players.
            return " ".join(title.split())
    return f"Scene {number}"


def to_chapters_vtt(scenes: list[Scene], scene_starts: list[float], duration: float) -> str:
    bounds = [round(start * 1000) for start in scene_starts] + [round(duration * 1000)]
    cues = [
        Cue(start_ms, end_ms, [chapter_title(scene, number)])
        for number, (scene, start_ms, end_ms) in enumerate(zip(scenes, bounds, bounds[1:]), start=1)
        if end_ms > start_ms
    ]
    return to_vtt(cues)

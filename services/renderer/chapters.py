"""Chapters (SPEC §8.2): one per scene, back to back, each covering the scene's whole time on
screen (its pause included), titled by its `chapter`, else its slide title, else "Scene N".
Written as chapters.vtt, and into the MP4 (PyAV's Container.set_chapters: the MP4 muxer keeps
them as a chapter text track and a Nero `chpl` list, which QuickTime, Safari and VLC show)."""

from dataclasses import dataclass

from libs.contracts.script import Scene, is_blank
from services.renderer.subtitles import Cue, to_vtt


@dataclass(frozen=True)
class Chapter:
    title: str
    start_ms: int
    end_ms: int


def chapter_title(scene: Scene, number: int) -> str:
    for title in (scene.chapter, scene.slide.title):
        if not is_blank(title):
            # A cue's text is one line here: a title's line breaks would end the cue early in some players.
            return " ".join(title.split())
    return f"Scene {number}"


def scene_chapters(scenes: list[Scene], scene_starts: list[float], duration: float) -> list[Chapter]:
    bounds = [round(start * 1000) for start in scene_starts] + [round(duration * 1000)]
    return [
        Chapter(chapter_title(scene, number), start_ms, end_ms)
        for number, (scene, start_ms, end_ms) in enumerate(zip(scenes, bounds, bounds[1:]), start=1)
        if end_ms > start_ms
    ]


def to_chapters_vtt(chapters: list[Chapter]) -> str:
    return to_vtt([Cue(chapter.start_ms, chapter.end_ms, [chapter.title]) for chapter in chapters])

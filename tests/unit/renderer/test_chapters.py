"""chapters.vtt: a cue per scene, back to back from 0 to the end, titled chapter > slide title > Scene N."""

import re

from libs.contracts.script import Scene, Slide
from services.renderer.chapters import scene_chapters, to_chapters_vtt

SCENES = [
    Scene(narration="하나", chapter="들어가며", slide=Slide(title="제목")),
    Scene(narration="둘", slide=Slide(title="개인정보란\n무엇인가")),
    Scene(narration="셋"),
    Scene(narration="넷", chapter="  ", slide=Slide(title="마무리 -->")),
]


def test_each_scene_is_a_chapter_covering_its_time_on_screen():
    vtt = to_chapters_vtt(scene_chapters(SCENES, [0.0, 2.5, 4.25, 9.0], 12.5))
    assert vtt.startswith("WEBVTT\n\n")
    times = re.findall(r"^(\S+) --> (\S+)$", vtt, re.M)
    assert times == [
        ("00:00:00.000", "00:00:02.500"),
        ("00:00:02.500", "00:00:04.250"),
        ("00:00:04.250", "00:00:09.000"),
        ("00:00:09.000", "00:00:12.500"),
    ]
    titles = [block.split("\n")[1:] for block in vtt.strip().split("\n\n")[1:]]
    assert titles == [["들어가며"], ["개인정보란 무엇인가"], ["Scene 3"], ["마무리 --&gt;"]]

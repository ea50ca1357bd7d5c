"""espeak-ng's voices as catalog entries (SPEC §8.1 `GET /api/v2/voices`), read with
`espeak_ListVoices`, so the catalog holds exactly what this build's data folder can load.

A voice's spec is `espeak#<file name>` (`espeak#ko`, `espeak#en-US`): `espeak_SetVoiceByName`
takes that name, and unlike the display name ("English (America)") it is short and ASCII.
"""

import ctypes

from libs.contracts.bus import VoiceInfo

_GENDERS = {1: "male", 2: "female"}
_PRIVATE_USE = "x"


class _Voice(ctypes.Structure):
    """espeak_VOICE of speak_lib.h."""

    _fields_ = [
        ("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]  # fmt: skip


def list_voices(lib: ctypes.CDLL, sample_rate: int) -> list[VoiceInfo]:
    """Every voice of the initialised library `lib`; call with espeak's process lock held."""
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    listed = lib.espeak_ListVoices(None)  # NULL: all voices, variants (+f3 …) excluded
    voices = []
    index = 0
    while listed[index]:
        voice = listed[index].contents
        file_name = voice.identifier.decode().rsplit("/", 1)[-1]
        voices.append(
            VoiceInfo(
                voice=f"espeak#{file_name}",
                engine="espeak",
                language=_bcp47_case(_first_language(voice.languages)),
                name=voice.name.decode().strip(),
                gender=_GENDERS.get(voice.gender, ""),
                kind="formant",
                where="local",
                sample_rate=sample_rate,
            )
        )
        index += 1
    return voices


def _first_language(languages: int) -> str:
    """The first (most preferred) of a voice's languages: a run of (priority byte, NUL-terminated
    tag) pairs ended by a zero priority."""
    if not languages or ctypes.string_at(languages, 1) == b"\0":
        return ""
    return ctypes.string_at(languages + 1).decode()


def _bcp47_case(tag: str) -> str:
    """espeak-ng writes tags in lower case; BCP-47 writes regions upper (en-GB) and scripts
    title case (cmn-Latn-pinyin). Only the primary subtag matters to `?language=`."""
    parts = tag.split("-")
    for index in range(1, len(parts)):
        if parts[index] == _PRIVATE_USE:
            break
        if len(parts[index]) == 2:
            parts[index] = parts[index].upper()
        elif len(parts[index]) == 4 and parts[index].isalpha():
            parts[index] = parts[index].title()
    return "-".join(parts)

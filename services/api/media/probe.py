"""`python -m services.api.media.probe font|audio`: reads one uploaded font or audio file in a
process of its own, so that a hostile file can cost this process, never the API.

The upload comes on stdin. Its facts go to stdout as JSON with exit status 0, or a refusal
(facts.Refusal) with REFUSED_EXIT_STATUS. Before the reader sees a byte, the process caps its
own address space and CPU time: a parser driven into a huge allocation gets a MemoryError or
dies, one driven into a loop is killed by SIGXCPU, and the API (sandbox.py) sees a crash.
The limits are set here rather than in a `preexec_fn`, which is unsafe in the API's threaded
process.
"""

import argparse
import resource
import sys

import msgspec

from services.api.errors import MediaRefused
from services.api.media.audio import AUDIO_FORMATS
from services.api.media.audio_reader import read_audio
from services.api.media.facts import REFUSED_EXIT_STATUS, Refusal
from services.api.media.font_reader import read_font

BASE_ADDRESS_SPACE_BYTES = 768 * 1024 * 1024
"""Python with PyAV, Pillow and fontTools loaded maps about 140 MB; the rest is the readers' room."""
ADDRESS_SPACE_PER_UPLOAD_BYTE = 4
"""On top of the base, per byte of upload: the upload itself, a copy or two in the parsers'
buffers, and fontTools' decompiled tables, which are larger than their bytes."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["font", "audio"])
    parser.add_argument("--format", choices=sorted(AUDIO_FORMATS), help="audio: the container its bytes declare")
    parser.add_argument("--max-sec", type=float, help="audio: the longest duration accepted")
    parser.add_argument("--cpu-sec", type=int, required=True, help="CPU seconds before the kernel kills this process")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_sec, args.cpu_sec))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # it writes no files: stdout is a pipe
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    data = sys.stdin.buffer.read()
    address_space = BASE_ADDRESS_SPACE_BYTES + ADDRESS_SPACE_PER_UPLOAD_BYTE * len(data)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    try:
        facts = read_font(data) if args.kind == "font" else read_audio(data, AUDIO_FORMATS[args.format], args.max_sec)
    except MediaRefused as refused:
        sys.stdout.buffer.write(
            msgspec.json.encode(Refusal(error_code=refused.error_code, message=refused.message, detail=refused.detail))
        )
        return REFUSED_EXIT_STATUS
    sys.stdout.buffer.write(msgspec.json.encode(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `slidereel` command starts without the API's web framework: it only parses arguments,
mints tokens and talks HTTP, and importing Litestar alone cost about 0.4 s on every run."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: this test process has Litestar loaded already.
PROBE = """
import sys
from services.cli.__main__ import main
main(["token", "--sub", "probe", "--role", "viewer"])
print(sorted(name for name in sys.modules if name.partition(".")[0] == "litestar"))
"""


def test_the_command_parses_and_mints_without_litestar():
    env = {**os.environ, "JWT_SECRET": "p" * 32}
    ran = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=True)
    token, imported = ran.stdout.strip().splitlines()
    assert token.count(".") == 2 and imported == "[]"

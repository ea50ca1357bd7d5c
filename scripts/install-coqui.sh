#!/usr/bin/env bash
# Installs the optional coqui TTS engine into .venv (CPU only) with the fixes its pins need.
# Idempotent: exits at once when `import TTS.api` already works. Needs .venv (scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=.venv/bin/python
[ -x "$python" ] || { echo "no .venv: run ./scripts/run or ./scripts/test first" >&2; exit 1; }

if "$python" -c 'import TTS.api' >/dev/null 2>&1; then
  echo "coqui TTS is already installed in .venv"
  exit 0
fi

pip() { "$python" -m pip install --quiet --disable-pip-version-check "$@"; }
# CPU torch first: left to the extra's resolver, pip would fetch the CUDA build (~15 nvidia
# packages). `==2.13.0` also matches a local `2.13.0+cpu` wheel, which pip prefers; where pip has
# none, set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu to offer it one.
pip "torch==2.13.0"
if [ "$("$python" -W ignore -c 'import torch; print(torch.version.cuda)')" != None ]; then
  echo "warning: a CUDA build of torch was installed (see PIP_EXTRA_INDEX_URL above)" >&2
fi
pip -e ".[coqui]"
# torchaudio 2.11's wheel carries only CUDA-linked libraries, which fail to load without CUDA;
# without them it runs as pure Python, which is all coqui uses.
rm -f "$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"/torchaudio/lib/*.so

"$python" -c 'import TTS.api' || { echo "coqui TTS still does not import; see the error above" >&2; exit 1; }
echo "coqui TTS installed"

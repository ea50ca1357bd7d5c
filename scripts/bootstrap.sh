# Sourced by the run and test commands: makes .venv with Python >= 3.11 and installs the
# project into it (editable, so the checkout is what runs), then puts it first on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x .venv/bin/python ]; then
  python=""
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python="$candidate"
      break
    fi
  done
  [ -n "$python" ] || { echo "slidereel needs Python 3.11 or newer (set PYTHON=...)" >&2; exit 1; }
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${SLIDEREEL_EXTRAS:+[$SLIDEREEL_EXTRAS]}"
# The console's Korean web font, cut once per font version (services/api/console/webfont.py).
.venv/bin/python -m services.api.console.webfont >/dev/null
export PATH="$PWD/.venv/bin:$PATH"

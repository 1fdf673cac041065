#!/usr/bin/env bash
# Regenerates Services/Auth/Resources/common-passwords.txt from zxcvbn 4.4.28 (MIT), in a git-ignored virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-tools/bin/python ] || python3 -m venv .venv-tools
.venv-tools/bin/pip install -q zxcvbn==4.4.28
.venv-tools/bin/python scripts/generate-common-passwords.py Services/Auth/Resources/common-passwords.txt

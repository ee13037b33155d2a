#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -e ".[test]"
exec python -m pytest "$@"

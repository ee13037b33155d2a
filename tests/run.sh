#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# A real headless browser for the HTML report test (Debian's chromium).
if ! command -v chromium >/dev/null 2>&1 && [ -z "${SECRETAUDIT_SKIP_BROWSER:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "tests/run.sh: chromium is missing; install it (apt-get install chromium) or set SECRETAUDIT_SKIP_BROWSER=1" >&2
        exit 4
    fi
fi

python -m pip install -q --disable-pip-version-check -e ".[test]"
exec python -m pytest "$@"

#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Real servers and a real browser, from Debian's packages: headless chromium
# (HTML report test), MariaDB and PostgreSQL (database grant and login tests).
# The tests start and stop the servers themselves, on loopback, in temp dirs.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        # the packages start their own servers; the tests run their own on free ports
        (service mariadb stop; service postgresql stop) >/dev/null 2>&1 || true
    else
        echo "tests/run.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
        exit 4
    fi
fi

python -m pip install -q --disable-pip-version-check -e ".[test]"
bash tests/install_openclaw.sh >/dev/null  # the real OpenClaw CLI, for the SA106 agreement test
exec python -m pytest "$@"

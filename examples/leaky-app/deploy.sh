#!/usr/bin/env bash
# Deploys the service; the token below should come from Vault instead.
set -euo pipefail
export GITHUB_TOKEN="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"
gh release download --repo acme/billing --pattern '*.tar.gz'

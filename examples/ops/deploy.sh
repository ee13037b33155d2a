#!/usr/bin/env bash
# The standard's deploy script, rewritten with secretaudit.
#
# Before (examples/leaky-app/deploy.sh): the token sat in the script, in git
# history forever, never rotated, readable by anyone with the repository.
# After: the token lives in the secrets manager; the deploy checks that it
# still works, reads it at task time (never from a file, never echoed), and
# the read lands in the access trail with the deploy's id as the reason.
#
# usage:  deploy.sh [COMMAND...]
#         (default COMMAND: gh release download --repo acme/billing --pattern '*.tar.gz')
# env:    SECRETAUDIT_CONFIG  config naming the backends (default: secretaudit.yaml)
#         GITHUB_SECRET       names the GitHub token in the backends; github when unset
#         AWS_SECRET          names the AWS key pair; deploy/aws-access-key when unset, none when empty
#         DEPLOY_ID           recorded as the reason of every read (default: manual)
set -euo pipefail

config="${SECRETAUDIT_CONFIG:-secretaudit.yaml}"
github="${GITHUB_SECRET:-github}"
aws="${AWS_SECRET-deploy/aws-access-key}"
reason="deploy ${DEPLOY_ID:-manual}"

# 1. Refuse to deploy with a credential that no longer works (revoked, expired,
#    wrong AWS identity): one live call each, values never shown.
checks=(--secret "$github")
[ -n "$aws" ] && checks+=(--secret "$aws")
secretaudit validate --config "$config" "${checks[@]}" -q >&2

# 2. Read them at task time.  Each read is one line in the access trail.
GITHUB_TOKEN="$(secretaudit get --config "$config" --secret "$github" --reason "$reason")"
export GITHUB_TOKEN
if [ -n "$aws" ]; then
    AWS_ACCESS_KEY_ID="$(secretaudit get --config "$config" --secret "$aws" --field access_key_id --reason "$reason")"
    AWS_SECRET_ACCESS_KEY="$(secretaudit get --config "$config" --secret "$aws" --field secret_access_key --reason "$reason")"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
fi

# 3. Deploy.
if [ "$#" -eq 0 ]; then
    set -- gh release download --repo acme/billing --pattern '*.tar.gz'
fi
exec "$@"

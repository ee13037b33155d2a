#!/usr/bin/env bash
# The standard's expiry monitor, rewritten with secretaudit: one nightly audit
# of every backend (expired and expiring within 30 days, rotation overdue,
# over-broad scopes, hardcoded keys in the configured repositories), a Slack
# message with what is new since last night and what expires soon, and the
# reports an auditor reads.
#
# crontab:  15 6 * * *  SLACK_WEBHOOK_URL=... /opt/secretaudit/expiry-monitor.sh
# env:      SECRETAUDIT_CONFIG  the config (default: secretaudit.yaml)
#           SECRETAUDIT_STATE   where reports are kept (default: ./secretaudit-reports)
#           SLACK_WEBHOOK_URL   Slack incoming webhook (optional; without it nothing is posted)
# exit:     secretaudit's own: 0 clean, 1 findings or errors, 4 config error.
#           A failed post is a warning and never changes it.
set -uo pipefail

config="${SECRETAUDIT_CONFIG:-secretaudit.yaml}"
state="${SECRETAUDIT_STATE:-./secretaudit-reports}"
mkdir -p "$state"
today="$(date -u +%Y-%m-%d)"

args=(audit --config "$config" --report "json:$state/audit-$today.json" --report "html:$state/audit-$today.html" -q)
[ -f "$state/latest.json" ] && args+=(--compare "$state/latest.json")
# the webhook URL is a credential too: secretaudit reads it from the environment
[ -n "${SLACK_WEBHOOK_URL:-}" ] && export SECRETAUDIT_NOTIFY_URL="$SLACK_WEBHOOK_URL"

secretaudit "${args[@]}"
status=$?
if [ -f "$state/audit-$today.json" ]; then
    cp "$state/audit-$today.json" "$state/latest.json"   # tomorrow's --compare
fi
exit "$status"

#!/usr/bin/env bash
# The standard's rotation cron job, rewritten with secretaudit.
#
# Every secret past its rotation period (GitHub tokens 30 days, AWS keys 90,
# database passwords 60, Vault tokens monthly: policy.rotation_days) is
# rotated, the new credential validated (a failed validation rolls back), and
# each step recorded in the access trail.  A secret that cannot be rotated
# safely by a program (a classic GitHub token) is listed with the manual
# steps, and the job exits 1 so that someone is told.
#
# crontab:  0 3 * * *  /opt/secretaudit/rotate-due.sh >> /var/log/secretaudit-rotate.log 2>&1
# env:      SECRETAUDIT_CONFIG  the config (default: secretaudit.yaml)
set -euo pipefail

config="${SECRETAUDIT_CONFIG:-secretaudit.yaml}"

status=0
secretaudit rotate --config "$config" --due --reason "scheduled rotation (cron $(date -u +%Y-%m-%d))" || status=$?

# Everything still in use must work after the night's rotations.
secretaudit validate --config "$config" --all -q || status=1
exit "$status"

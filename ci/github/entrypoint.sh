#!/usr/bin/env bash
# The GitHub Action's run step (action.yml at the repository root): runs secretaudit
# on the checked-out repository and hands its results to GitHub.
#
#   - findings as workflow annotations on the pull request's diff (--format github);
#   - a SARIF file for github/codeql-action/upload-sarif (--report sarif:PATH);
#   - the markdown report on the run's summary page, when $GITHUB_STEP_SUMMARY is set;
#   - step outputs: sarif (the file's path), exit-code, findings (failed findings,
#     any severity; waived ones not counted);
#   - secretaudit's own exit code (0 clean, 1 findings, 4 usage/config error, ...).
#
# Inputs arrive as environment variables (action.yml maps them: a composite
# action's inputs are never pasted into the script's text, so an input cannot
# inject shell code): INPUT_COMMAND, INPUT_PATHS, INPUT_CONFIG, INPUT_BASELINE,
# INPUT_FAIL_ON, INPUT_SARIF, INPUT_ARGS.  SECRETAUDIT is the program to run
# (default: secretaudit on PATH), SECRETAUDIT_PYTHON a Python to read the SARIF
# file with (default: python3).  Tests run this script directly with GitHub's
# variables set (tests/test_github_action.py).
set -uo pipefail
set -f  # paths and args are split on whitespace, never glob-expanded

secretaudit=${SECRETAUDIT:-secretaudit}
python=${SECRETAUDIT_PYTHON:-python3}
command=${INPUT_COMMAND:-scan}
sarif=${INPUT_SARIF:-secretaudit.sarif}

fail() {  # a one-line error, as an annotation and on stderr; exit 4 (usage)
    local text=${1//'%'/'%25'}
    text=${text//$'\r'/'%0D'}
    printf '::error title=secretaudit action::%s\n' "${text//$'\n'/'%0A'}"
    printf 'error: %s\n' "$1" >&2
    exit 4
}

output() {  # NAME VALUE into $GITHUB_OUTPUT, in the delimiter form (a value cannot add an output)
    [[ -n ${GITHUB_OUTPUT:-} ]] || return 0
    local delimiter="secretaudit_${RANDOM}${RANDOM}${RANDOM}"
    printf '%s<<%s\n%s\n%s\n' "$1" "$delimiter" "$2" "$delimiter" >> "$GITHUB_OUTPUT"
}

case $command in
    scan|audit) ;;
    *) fail "input 'command' is '$command'; use scan or audit" ;;
esac
[[ -n $sarif ]] || fail "input 'sarif' is empty; give the SARIF file's path (default secretaudit.sarif)"
if [[ -n ${INPUT_BASELINE:-} && $command != scan ]]; then
    fail "input 'baseline' applies to command scan only; audit reads waivers from its config"
fi

cd "${GITHUB_WORKSPACE:-.}" || fail "cannot enter GITHUB_WORKSPACE (${GITHUB_WORKSPACE:-})"

args=("$command" --format github --report "sarif:$sarif" --create-dirs)
[[ -n ${INPUT_CONFIG:-} ]] && args+=(--config "$INPUT_CONFIG")
[[ -n ${INPUT_BASELINE:-} ]] && args+=(--baseline "$INPUT_BASELINE")
[[ -n ${INPUT_FAIL_ON:-} ]] && args+=(--fail-on "$INPUT_FAIL_ON")
summary=""
if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
    summary=$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/secretaudit-summary.XXXXXX") || fail "cannot create a temporary file"
    args+=(--report "markdown:$summary")
fi
read -r -d '' -a extra <<< "${INPUT_ARGS:-}"
read -r -d '' -a paths <<< "${INPUT_PATHS:-}"
args+=(${extra[@]+"${extra[@]}"})  # (this form: bash 3.2, the macOS one, calls an empty array unbound)
[[ $command == audit || ${#paths[@]} -gt 0 ]] || paths=(.)
args+=(${paths[@]+"${paths[@]}"})

"$secretaudit" "${args[@]}"
code=$?

findings=0
if [[ ($code == 0 || $code == 1) && -f $sarif ]]; then  # else the file may be an older run's
    findings=$("$python" -c '
import json, sys
log = json.load(open(sys.argv[1], encoding="utf-8"))
print(sum(1 for run in log["runs"] for result in run.get("results", []) if not result.get("suppressions")))
' "$sarif") || findings=0
fi
if [[ -n $summary ]]; then
    [[ -s $summary ]] && cat "$summary" >> "$GITHUB_STEP_SUMMARY"
    rm -f "$summary"
fi
case $code in
    0|1) ;;
    2) echo "::error title=secretaudit::interrupted: the results are partial" ;;
    5) echo "::error title=secretaudit::nothing was checked (no file or secret); add --allow-empty to args to accept that" ;;
    *) echo "::error title=secretaudit::secretaudit exited $code (4: usage or configuration error, 3: a bug); the step's log says why" ;;
esac

output sarif "$sarif"
output exit-code "$code"
output findings "$findings"
exit "$code"

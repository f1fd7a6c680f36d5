#!/usr/bin/env bash
# The GitHub action's step: check PATH (SARIF for code scanning), then review it against the
# pull request's base (annotations, errors first) and add a Markdown summary to the run page.
# Reads BCASTSIM_PATH, BCASTSIM_BASE, BCASTSIM_FAIL_ON and GitHub's GITHUB_* variables.
set -uo pipefail

path="${BCASTSIM_PATH:-sql/}"
fail_on=()
if [ -n "${BCASTSIM_FAIL_ON:-}" ]; then
  fail_on=(--fail-on "$BCASTSIM_FAIL_ON")
fi
sarif="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/bcastsim.sarif"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"

# SARIF of the whole check, whatever it finds: code scanning tracks findings across runs.
bcastsim check "$path" --format sarif --output "$sarif" --fail-on never || exit $?
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "sarif=$sarif" >>"$GITHUB_OUTPUT"
fi

base="${BCASTSIM_BASE:-}"
if [ -z "$base" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then
  if git rev-parse --verify --quiet "origin/$GITHUB_BASE_REF" >/dev/null; then
    base="origin/$GITHUB_BASE_REF"
  else
    base="$GITHUB_BASE_REF"
  fi
fi

if [ -n "$base" ]; then
  command=(bcastsim review "git:$base:$path" "$path" "${fail_on[@]}")
else
  command=(bcastsim check "$path" "${fail_on[@]}")
fi
"${command[@]}" --format markdown >>"$summary"
status=$?
if [ "$status" -ge 2 ]; then
  exit "$status"
fi
"${command[@]}" --format github
exit $?

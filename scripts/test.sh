#!/usr/bin/env bash
# Runs Keel's whole test suite on a fresh machine: installs what the tests need, builds, tests, cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# The client-compatibility tests drive Keel with the official `openai` npm package.
if command -v npm >/dev/null 2>&1; then
  if [ ! -d tests/clients/node/node_modules/openai ]; then
    log "Installing the openai npm package for client-compatibility tests"
    (cd tests/clients/node && npm ci --no-audit --no-fund --loglevel=error)
  fi
else
  echo "npm not found: install Node.js (apt-get install -y nodejs npm) to run the npm client tests" >&2
  exit 1
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

log "Building"
dotnet build Keel.slnx -c Release --nologo -v quiet

log "Testing"
status=0
dotnet test Keel.slnx -c Release --no-build --nologo --filter "Category!=Chaos" --logger "trx" --results-directory "$results" 2>&1 | tee "$results/out.txt" || status=$?

passed=$(grep -hoE 'Passed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
failed=$(grep -hoE 'Failed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
echo
echo "tests: ${passed} passed, ${failed} failed"
exit $status

#!/usr/bin/env bash
# The bounded chaos run of the routing layer: 3 deployments, random faults in 30 % of upstream
# calls, steady load on loopback for KEEL_CHAOS_SECONDS (default 60). Prints its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build tests/Keel.FunctionalTests -c Release --nologo -v quiet
dotnet test tests/Keel.FunctionalTests -c Release --no-build --nologo \
  --filter "Category=Chaos" --logger "console;verbosity=detailed"

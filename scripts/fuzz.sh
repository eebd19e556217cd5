#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 1m).
# Usage: scripts/fuzz.sh [package-pattern]   e.g. scripts/fuzz.sh ./core/record
set -euo pipefail
fuzztime=${FUZZTIME:-1m}
pattern=${1:-./...}
for pkg in $(go list "$pattern"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u || true)
  for t in $targets; do
    echo "== $pkg $t ($fuzztime)"
    go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" "$pkg"
  done
done

#!/bin/bash
# Runs the end-to-end suite (package e2e: the real daemons in the namespace
# testbed) verbosely into a log, prints the matrix lines, the per-test
# results and the figures the tests log, and the whole log on failure.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -count=1 -v -timeout "${E2E_TIMEOUT:-15m}" ./e2e/ >"$log" 2>&1
rc=$?
grep -E '^matrix ' "$log"
grep -E '^\s+(nemo|matrix|dsmip|faults|hostile)_linux_test\.go:[0-9]+: ' "$log" | sed 's/^\s*/  /' | grep -vE ': ip -|LOG ' | head -80
grep -E '^(--- (PASS|FAIL|SKIP)|ok |FAIL|PASS$|panic)' "$log"
if [ "$rc" -ne 0 ]; then
	echo "== e2e failed (exit $rc); full log follows"
	cat "$log"
fi
exit "$rc"

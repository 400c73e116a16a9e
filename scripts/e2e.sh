#!/bin/bash
# Runs the end-to-end suite (package e2e: the real daemons in the namespace
# testbed) verbosely into a log, prints the matrix lines, the per-test
# results and the figures the tests log, and the whole log on failure.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# -parallel 4: the tests marked parallel mostly wait (a DHCP lease running
# out, RFC 6275 retransmission timers, a NAT timing mappings out, daemons
# restarting); the CPU-heavy ones (matrix, flood) run alone first.
go test -count=1 -v -parallel 4 -timeout "${E2E_TIMEOUT:-25m}" ./e2e/ >"$log" 2>&1
rc=$?
grep -E '^matrix ' "$log"
grep -E '^\s+(nemo|matrix|dsmip|faults|faults_nat|faults_router|faults_path|hostile)_linux_test\.go:[0-9]+: ' "$log" | sed 's/^\s*/  /' | grep -vE ': ip -|LOG ' | head -400
# The hostile suite's summary is one multi-line log: its table follows.
awk '/suite summary:$/ {on=1; next} on && /^        / {sub(/^ +/, "    "); print; next} {on=0}' "$log"
grep -E '^(--- (PASS|FAIL|SKIP)|ok |FAIL|PASS$|panic)' "$log"
if [ "$rc" -ne 0 ]; then
	echo "== e2e failed (exit $rc); full log follows"
	cat "$log"
fi
exit "$rc"

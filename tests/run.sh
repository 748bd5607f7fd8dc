#!/bin/bash
# Runs test programs and scripts, prints one line per test and the summary
# "N passed, N failed, N skipped".  Exit status: 0 if nothing failed.
# A test passes with exit 0, is skipped with exit 77 (it must say why), fails otherwise.
# cmocka binaries print their own per-case lines; they count as one test each here.
set -u
kind=$1; shift
top=$(cd "$(dirname "$0")/.." && pwd)
logdir=$top/build/test-logs
mkdir -p "$logdir"
pass=0 fail=0 skip=0 failed=()
for t in "$@"; do
	# "WRAPPER:TEST" runs TEST under WRAPPER (e.g. tests/san.sh:tests/integration/10-x.sh)
	cmd=("$t")
	case $t in *:*) cmd=("${t%%:*}" "${t#*:}") ;; esac
	name=${t#"$top"/}
	log=$logdir/$(echo "$name" | tr '/:' '__').log
	start=${EPOCHREALTIME/./}
	( cd "$top" && exec "${cmd[@]}" ) >"$log" 2>&1
	rc=$?
	el=$(( ${EPOCHREALTIME/./} - start )); secs=$((el / 1000000)).$((el / 100000 % 10))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS  $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP  $name: $(grep -m1 -i 'skip' "$log" || tail -n1 "$log")" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "FAIL  $name (exit $rc, ${secs}s)"
	   sed 's/^/    | /' "$log" | tail -n 60 ;;
	esac
done
echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]} (logs in build/test-logs/)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

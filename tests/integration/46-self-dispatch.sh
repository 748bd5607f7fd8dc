#!/bin/bash
# Code that picks its own instructions, found by the ISA census (never by names):
#  1. libselfdisp.so (a CPUID flag and a function pointer in a heap context, both
#     leading to an AVX2 function): refused as x86-64-v2 naming the library, the
#     function and an instruction; `cpuport check` predicts it; restores and runs
#     on the host itself (the upgrade/same direction stays allowed)
#  2. HotSpot's JIT code in anonymous executable memory: refused as x86-64-v2 with
#     a message naming JIT code; restores and runs on the host itself
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs an AVX2 host (the fixture's AVX2 path)"

expect_refusal() {	# expect_refusal IMG PATTERN [env...]
	local img=$1 pat=$2
	shift 2
	if env "$@" "$CRIU" restore -D "$img" -L "$PLUGIN_DIR" -d -v4 -o restore.log --pidfile "$img/p"; then
		sleep 0.3
		[ -f "$img/p" ] && alive "$(cat "$img/p")" && die "restored process is running although cpuport refused"
	fi
	grep -Eq "$pat" "$img/restore.log" || { grep cpuport "$img/restore.log" | tail -n 20; die "no '$pat' in restore.log"; }
	info "refused: $(grep -Em1 "$pat" "$img/restore.log" | sed 's/^.*cpuport: //')"
	if [ -f "$img/p" ]; then
		sleep 0.2
		! alive "$(cat "$img/p")" || die "refused process still alive"
		wait_gone "$(cat "$img/p")"
		rm -f "$img/p"
	fi
}

# 1. the fixture library
out=$WORK/sd.out
start_workload "$FIX/selfdisp" "$out"
grep -q '^avx2 1' "$out.info" || die "the fixture did not choose its AVX2 path on an AVX2 host"
dump "$PID" "$WORK/sd"
rc=0
"$CPUPORT" check --target x86-64-v2 "$WORK/sd" >"$WORK/check.txt" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$WORK/check.txt"; die "cpuport check should predict the refusal"; }
grep -q 'libselfdisp\.so.*self-dispatched' "$WORK/check.txt" || { cat "$WORK/check.txt"; die "check does not show libselfdisp.so as self-dispatched"; }
"$CPUPORT" check --json --target x86-64-v2 "$WORK/sd" >"$WORK/check.json" 2>/dev/null || true
"$PY" - "$WORK/check.json" <<'PYCHECK' || die "check --json does not show the self-dispatched function"
import json, sys
d = json.load(open(sys.argv[1]))
d = d[0] if isinstance(d, list) else d
c = [o for o in d["census"] if "libselfdisp" in o["object"]]
assert c and c[0]["class"] == "self-dispatched" and c[0]["function"].startswith("sum_avx2"), c
PYCHECK
expect_refusal "$WORK/sd" 'libselfdisp\.so chooses its own code.*sum_avx2 needs (avx|avx2) \(instruction [a-z0-9]+ at' CPUPORT_TARGET=x86-64-v2
"$CPUPORT" check "$WORK/sd" >/dev/null 2>&1 || die "cpuport check on the host itself should pass"
restore "$WORK/sd" || die "restore on the host itself failed"
check_running "$out" "$PID"
kill -9 "$PID"

# 2. HotSpot
if command -v java >/dev/null; then
	out=$WORK/jit.out
	setsid java -XX:-UsePerfData -Xmx64m -Xshare:off "$TOP/tests/fixtures/java/Hot.java" "$out" </dev/null >/dev/null 2>&1 &
	PID=$!
	disown
	PIDS+=("$PID")
	wait_lines "$out" 20	# compiled by now
	dump "$PID" "$WORK/jit" --shell-job
	rc=0
	"$CPUPORT" check --target x86-64-v2 "$WORK/jit" >"$WORK/jit-check.txt" 2>&1 || rc=$?
	[ $rc -ne 0 ] && grep -q 'JIT code in anonymous executable memory' "$WORK/jit-check.txt" ||
		{ cat "$WORK/jit-check.txt"; die "cpuport check should predict the JIT refusal"; }
	"$CPUPORT" check "$WORK/jit" >/dev/null 2>&1 || die "cpuport check of the JVM on the host itself should pass"
	expect_refusal "$WORK/jit" 'JIT code in anonymous executable memory .* uses [a-z0-9]+ \(instruction' CPUPORT_TARGET=x86-64-v2
	restore "$WORK/jit" --shell-job || die "restore of the JVM on the host itself failed"
	check_running "$out" "$PID"
	kill -9 "$PID"
else
	info "no java: the JIT case is not run"
fi

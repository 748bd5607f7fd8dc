#!/bin/bash
# Injected faults (CPUPORT_FAULT, test-only) each fail the restore closed: the
# helper crashes, the helper hangs past CPUPORT_TIMEOUT_MS, a write into the
# process fails half-way, memory runs out.  Each time the plugin says what
# failed, kills the process, and criu restore reports failure; never a
# half-patched process left running.  A clean restore of the same image works.
. "$(dirname "$0")/../lib.sh"
require_criu

out=$WORK/w.out
start_workload "$FIX/workload" "$out"
dump "$PID" "$WORK/base"

try() {	# try NAME PATTERN ENV...
	local name=$1 pat=$2 img=$WORK/$1 rc=0
	shift 2
	cp -a "$WORK/base" "$img"
	env "$@" "$CRIU" restore -D "$img" -L "$PLUGIN_DIR" -d -v4 -o restore.log --pidfile "$img/p" || rc=$?
	[ "$rc" -ne 0 ] || die "$name: criu restore reported success"
	grep -Eq "$pat" "$img/restore.log" || { tail -n 20 "$img/restore.log"; die "$name: no '$pat' in the log"; }
	grep -q 'killing the restored process' "$img/restore.log" || die "$name: the plugin did not kill the process"
	if [ -f "$img/p" ]; then
		! alive "$(cat "$img/p")" || die "$name: process still running"
		wait_gone "$(cat "$img/p")"
	fi
	info "$name: refused: $(grep -Em1 "$pat" "$img/restore.log" | sed 's/^.*cpuport: //')"
}

try helper-crash 'selection helper killed by signal 6' CPUPORT_FAULT=helper-crash
try helper-hang 'selection helper timed out after 300 ms' CPUPORT_FAULT=helper-hang CPUPORT_TIMEOUT_MS=300
try write 'writing .* failed: .*writes done' CPUPORT_FAULT=write
try nomem 'out of memory' CPUPORT_FAULT=nomem
# no helper at all: refused up front, before any process is created
cp -a "$WORK/base" "$WORK/nohelper"
if CPUPORT_HELPER=/nonexistent/cpuport-select "$CRIU" restore -D "$WORK/nohelper" -L "$PLUGIN_DIR" -d \
	-v4 -o restore.log; then
	die "restore without the helper succeeded"
fi
grep -q 'selection helper /nonexistent/cpuport-select is missing' "$WORK/nohelper/restore.log" ||
	die "no clear message about the missing helper"
info "no helper: $(grep -m1 'selection helper' "$WORK/nohelper/restore.log" | sed 's/^.*cpuport: //')"

restore "$WORK/base" || die "clean restore failed"
check_running "$out" "$PID"

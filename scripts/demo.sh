#!/bin/bash
# cpuport demo: a real process, a real criu dump and restore through the plugin.
#
#  1. start build/fixtures/workload as if on an older CPU (glibc told to ignore
#     AVX/AVX2/AVX-512 with GLIBC_TUNABLES): it binds the SSE2 string functions;
#  2. criu dump with the cpuport plugin: cpuport records every binding;
#  3. criu restore with the plugin: cpuport re-selects for this CPU, so the
#     process now runs the best variants (upgrade), and keeps computing correctly;
#  4. dump again and restore with CPUPORT_TARGET=x86-64-v2 (an older CPU, simulated):
#     everything moves back to SSE variants (downgrade), still correct.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib.sh"
require_criu
[ -x "$FIX/workload" ] || make -C "$TOP" -s fixtures

show_bindings() {	# show_bindings PID: the variants a few string functions are bound to
	"$CPUPORT" scan --json "$1" >"$WORK/scan.json"
	for s in memcpy memmove memset strlen strchr; do
		printf '    %-8s -> %s\n' "$s" "$(json_slot_target "$WORK/scan.json" "$s" libc.so.6)"
	done
}

out=$WORK/demo.out
echo "This CPU:"
"$CPUPORT" cpu | sed 's/^/    /'

echo
echo "1. Starting the workload as on an older CPU (GLIBC_TUNABLES masks AVX, AVX2, AVX-512):"
GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX2,-AVX,-AVX_Fast_Unaligned_Load,-ERMS,-FSRM \
	start_workload "$FIX/workload" "$out"
echo "   pid $PID; libc's own IFUNC slots are bound to:"
show_bindings "$PID"

echo
echo "2. criu dump with the cpuport plugin (--libdir $PLUGIN_DIR):"
dump "$PID" "$WORK/img"
grep -E 'cpuport: (pid [0-9]+: (recorded|re-patched)|re-selecting)' "$WORK/img/dump.log" | sed 's/^/    /'
echo "   images: $(cd "$WORK/img" && ls cpuport-*.img)"

echo
echo "3. criu restore with the plugin on this CPU:"
# CPUPORT_UNMASK=1: re-select without the mask the process started with (kept by default)
CPUPORT_UNMASK=1 restore "$WORK/img" || { tail "$WORK/img/restore.log"; die "restore failed"; }
grep -E 'cpuport: (pid [0-9]+: (recorded|re-patched)|re-selecting)' "$WORK/img/restore.log" | sed 's/^/    /'
echo "   restored pid $PID is now bound to:"
show_bindings "$PID"
check_running "$out" "$PID"

echo
echo "4. Dump again, restore as on an x86-64-v2 CPU (CPUPORT_TARGET=x86-64-v2, simulated):"
dump "$PID" "$WORK/img2"
CPUPORT_TARGET=x86-64-v2 restore "$WORK/img2" || die "restore failed"
grep -E 'cpuport: (pid [0-9]+: (recorded|re-patched)|re-selecting)' "$WORK/img2/restore.log" | sed 's/^/    /'
show_bindings "$PID"
check_running "$out" "$PID"
echo
echo "Demo finished: dumped and restored twice through the cpuport plugin; the process kept running"
echo "and every iteration after each restore matched its reference computation."

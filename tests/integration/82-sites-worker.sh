#!/bin/bash
# The dump's copied-pointer sites scan runs in a worker process beside CRIU's
# page dump (plugin/sites_jobs.c, resolver/sites_worker.c).  On a process with
# 96 MiB of written heap holding 1000 copies of the memcpy pointer:
#  1. the worker stores cpuport-<id>.sites, and a restore as on x86-64-v2
#     re-points all 1000 copies reading only the chunks it names;
#  2. the same with --leave-running: the worker is done before the tree runs;
#  3. a worker that dies (CPUPORT_FAULT=sites-crash) and one that hangs past
#     CPUPORT_TIMEOUT_MS (sites-hang, then killed) leave no sites file, never a
#     partial one, and say so as an error in CRIU's log; the dump is whole and
#     its restore re-points all 1000 copies by reading all the memory;
#  4. the worker is never CRIU's child: CRIU's log has no "exited unexpectedly".
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs AVX2 on the host to see a downgrade"

start_heap() {	# start_heap NAME: sets PID, OUT
	OUT=$WORK/$1
	setsid "$FIX/scale" "$OUT" heap 96 ptrs 1000 </dev/null >/dev/null 2>&1 &
	PID=$!
	disown
	PIDS+=("$PID")
	wait_lines "$OUT.0" 2
}

# restored NAME IMG: restored as on x86-64-v2, all 1000 copies re-pointed, the process sees them
restored() {
	local name=$1 img=$2 before
	CPUPORT_TARGET=x86-64-v2 restore "$img" || die "$name: restore failed"
	grep -q 'cpuport: pid .* 1000 copied pointers' "$img/restore.log" ||
		{ grep 'copied pointers' "$img/restore.log"; die "$name: not all 1000 copied pointers re-pointed"; }
	before=$(wc -l <"$OUT.0")
	wait_lines "$OUT.0" $((before + 2))
	grep -q "ptrs=1000/1000" <(tail -n1 "$OUT.0") || die "$name: the process sees stale pointers: $(tail -n1 "$OUT.0")"
	info "$name: $(grep -E 'cpuport: pid [0-9]+: re-patched' "$img/restore.log" | sed 's/^.*cpuport: //')"
	kill -9 "$PID"
	wait_gone "$PID"
}

no_child_noise() {	# CRIU never saw a child of its own die
	! grep -E 'exited with .* unexpectedly|was killed by .* unexpectedly' "$1/dump.log" ||
		die "CRIU saw the worker as its child"
}

# 1. the worker stores the sites
start_heap plain
dump "$PID" "$WORK/plain"
grep -Eq 'copied-pointer sites found in .* by worker [0-9]+ beside' "$WORK/plain/dump.log" ||
	{ grep cpuport: "$WORK/plain/dump.log"; die "no sites worker in the dump log"; }
ls "$WORK/plain"/cpuport-*.sites >/dev/null || die "no sites file stored"
no_child_noise "$WORK/plain"
restored plain "$WORK/plain"
grep -Eq 'pointer scan [0-9.]+' "$WORK/plain/restore.log" || die "no pointer scan time in the restore log"

# 2. --leave-running: collected in fini, before CRIU resumes the tree
start_heap leave
mkdir -p "$WORK/leave"
"$CRIU" dump -t "$PID" -D "$WORK/leave" -L "$PLUGIN_DIR" -v4 -o dump.log --leave-running ||
	{ tail -n 30 "$WORK/leave/dump.log"; die "criu dump --leave-running failed"; }
ls "$WORK/leave"/cpuport-*.sites >/dev/null || die "--leave-running: no sites file stored"
awk '/copied-pointer sites found/ {s = NR} /Unseizing/ && !u {u = NR} END {exit !(s && u && s < u)}' \
	"$WORK/leave/dump.log" || die "--leave-running: the sites were not collected before the tree was resumed"
alive "$PID" || die "--leave-running: the process is gone"
kill -9 "$PID"
wait_gone "$PID"
info "--leave-running: sites collected before the tree was resumed"

# 3. a worker that dies, one that hangs: an error, no sites file, a whole dump
fault() {	# fault NAME PATTERN ENV...
	local name=$1 pat=$2 img=$WORK/$1 t0 ms w
	shift 2
	start_heap "$name"
	mkdir -p "$img"
	t0=${EPOCHREALTIME/./}
	env "$@" "$CRIU" dump -t "$PID" -D "$img" -L "$PLUGIN_DIR" -v4 -o dump.log ||
		{ tail -n 30 "$img/dump.log"; die "$name: criu dump failed"; }
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	wait_gone "$PID"
	grep -Eq "Error.*cpuport: pid [0-9]+: the copied-pointer scan worker [0-9]+ $pat" "$img/dump.log" ||
		{ grep cpuport: "$img/dump.log"; die "$name: no error naming the worker ('$pat') in the dump log"; }
	! ls "$img"/cpuport-*.sites >/dev/null 2>&1 || die "$name: a sites file was stored"
	ls "$img"/cpuport-*.img >/dev/null || die "$name: no cpuport image"
	no_child_noise "$img"
	w=$(sed -n 's/.*the copied-pointer scan worker \([0-9]*\) .*/\1/p;T;q' "$img/dump.log")
	for _ in $(seq 100); do alive "$w" || break; sleep 0.05; done
	! alive "$w" || die "$name: the worker $w still runs after the dump"
	info "$name: dump in $ms ms: $(grep -Em1 "worker [0-9]+ $pat" "$img/dump.log" | sed 's/^.*cpuport: //')"
	restored "$name" "$img"
}
fault crash 'died' CPUPORT_FAULT=sites-crash
fault hang 'did not finish in time and was killed' CPUPORT_FAULT=sites-hang CPUPORT_TIMEOUT_MS=500

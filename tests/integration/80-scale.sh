#!/bin/bash
# Scale, each dumped and restored (as on x86-64-v2) through the plugin, with
# the time reported:
#  1. a tree of 50 processes x 8 threads;
#  2. a process with 200 shared objects dlopen()ed, each with a target_clones function;
#  3. a process holding 100k copies of the memcpy pointer in its heap: all re-pointed.
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs AVX2 on the host to see a downgrade"

ms() { echo $(( (${EPOCHREALTIME/./} - $1) / 1000 )); }

run_case() {	# run_case NAME ARGS...: start, dump, restore, check every process file
	local name=$1 t0 dump_ms restore_ms n
	shift
	out=$WORK/$name
	setsid "$FIX/scale" "$out" "$@" </dev/null >/dev/null 2>&1 &
	PID=$!
	disown
	PIDS+=("$PID")
	wait_lines "$out.0" 2
	sleep 0.5
	t0=${EPOCHREALTIME/./}
	dump "$PID" "$WORK/img-$name"
	dump_ms=$(ms "$t0")
	t0=${EPOCHREALTIME/./}
	CPUPORT_TARGET=x86-64-v2 restore "$WORK/img-$name" || die "$name: restore failed"
	restore_ms=$(ms "$t0")
	n=$(ls "$WORK/img-$name"/cpuport-*.img | wc -l)
	for f in "$out".*; do
		local before last
		before=$(wc -l <"$f")
		wait_lines "$f" $((before + 2))
		last=$(tail -n1 "$f")
		case $last in *" ok "*) ;; *) die "$name: $f: $last" ;; esac
	done
	info "$name: $n processes, dump ${dump_ms} ms, restore ${restore_ms} ms (wall, criu + cpuport)"
	grep -E 'cpuport: pid [0-9]+: re-patched' "$WORK/img-$name/restore.log" | tail -n1 | sed 's/^.*cpuport: /    /'
	kill -9 "$PID" 2>/dev/null || true
	pkill -9 -f "$out" 2>/dev/null || true
}

run_case tree procs 50 threads 7
[ "$(ls "$WORK/tree".* | wc -l)" -eq 50 ] || die "expected 50 process outputs"

mkdir -p "$WORK/libs"
for i in $(seq -w 1 200); do
	cc -O2 -fPIC -shared -Wl,-soname,libscale$i.so -o "$WORK/libs/libscale$i.so" "$TOP/tests/fixtures/scale_lib.c"
done
run_case libs libs "$WORK/libs"
grep -q 'libs=200' "$WORK/libs.0" || die "not all 200 libraries loaded"
slots=$("$CPUPORT" show --json "$WORK/img-libs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["slots"]))')
info "libs: $slots slots recorded"

run_case ptrs ptrs 100000
grep -q 'cpuport: pid .* 100000 copied pointers' "$WORK/img-ptrs/restore.log" ||
	{ grep 'copied pointers' "$WORK/img-ptrs/restore.log"; die "not all 100000 copied pointers re-pointed"; }
grep -q "ptrs=100000/100000" <(tail -n1 "$WORK/ptrs.0") || die "the process sees stale pointers"

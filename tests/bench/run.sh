#!/bin/bash
# make bench: what cpuport costs and what it buys, measured with real
# criu dump/restore on this host.  Prints a table and writes
# build/bench/results.md, results.json, chart.png (and raw.tsv, logs/).
#
#  1. overhead: criu dump and restore wall time with the plugin vs without
#     (an empty -L dir for both), interleaved A/B, median of BENCH_RUNS runs,
#     for the C fixture, python3 with >= 50 shared objects, a 20-process tree;
#  2. upgrade throughput: a memcpy/strlen/strchr loop started masked to SSE2,
#     dumped, restored by criu alone and with cpuport, against a fresh start;
#  3. scan speed (relocations per CPU-second) and peak RSS (criu with/without,
#     the helper); what loading the plugin and its init cost per criu run;
#  4. where restore time goes (the plugin's summary line, and tests/bench/probe
#     which runs the library's restore outside criu on a `criu restore -s` process);
#  5. scale (BENCH_SCALE_RUNS interleaved runs, build/fixtures/scale): 1 GiB and
#     4 GiB of written heap (restored as here and as on x86-64-v2, where the
#     copied-pointer scan runs), 50 processes x 8 threads, 200 dlopen()ed
#     objects; and a repeated restore: one python3 checkpoint restored again
#     and again (as serverless platforms do), with the plugin vs without.
#
# Helpers built at run time: strbench.c (the throughput loop), tree.c (the
# process tree), tcmd.c (timer, subreaper, dlopen timing), probe.c (linked
# with build/libcpuport.a); pyload.py is the python3 load; report.py writes
# the results.  The machine may be shared: everything runs at nice 10, A/B
# runs are interleaved, results are medians and ratios, and CPU time is
# reported beside wall time.
#
# Settings (environment): BENCH_RUNS (21), BENCH_ROUNDS (2), BENCH_CYCLES (40),
# BENCH_SCALE_RUNS (5), BENCH_HEAPS ("1024 4096", MiB),
# BENCH_QUICK=1 (3 runs, 1 round of 3 cycles: checks the script, numbers are
# not meaningful), BENCH_STEPS (a subset of the steps listed at the end; no
# report), BENCH_SCALE_CASES (a subset of "heap procs50x8 dlopen200"), BENCH_DUMP_ONLY=1
# (overhead and scale: dumps only, no restores; with BENCH_STEPS, for the dump
# side), BENCH_TRACE=1 (timestamped trace), KEEP=1 (keep the work dir).
set -euo pipefail
[ -z "${BENCH_TRACE:-}" ] || { PS4='+ ${EPOCHREALTIME} '; set -x; }

# Two cores shared with other people: stay out of their way.  And reap the
# processes criu restores ourselves (init may take seconds to).
if [ -z "${CPUPORT_BENCH_NICED:-}" ]; then
	export CPUPORT_BENCH_NICED=1
	top=$(cd "$(dirname "$0")/../.." && pwd)
	mkdir -p "$top/build/bench"
	${CC:-gcc} -O2 -Wall -Werror -o "$top/build/bench/tcmd" "$top/tests/bench/tcmd.c"
	exec nice -n 10 "$top/build/bench/tcmd" --subreaper "$0" "$@"
fi

. "$(dirname "$0")/../lib.sh"
require_criu
BENCH=$TOP/tests/bench
OUTDIR=$TOP/build/bench
RUNS=${BENCH_RUNS:-21}
ROUNDS=${BENCH_ROUNDS:-2}
SCALE_RUNS=${BENCH_SCALE_RUNS:-5}
HEAPS=${BENCH_HEAPS:-1024 4096}
if [ -n "${BENCH_QUICK:-}" ]; then RUNS=3 ROUNDS=1 BENCH_CYCLES=3 SCALE_RUNS=1 HEAPS=${BENCH_HEAPS:-64}; fi
PY=/usr/bin/python3
MASK=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX2,-AVX,-AVX_Fast_Unaligned_Load,-ERMS,-FSRM
TREE_N=20
WINDOW_MS=25 CYCLES=${BENCH_CYCLES:-40} CYCLES_BEFORE=$(((${BENCH_CYCLES:-40} + 3) / 4))

command -v gnuplot >/dev/null || skip "gnuplot not installed (apt-get install gnuplot-nox)"
[ -x $PY ] || skip "Debian's python3 ($PY) not installed"
grep -qw avx2 /proc/cpuinfo || skip "this CPU has no AVX2: the upgrade benchmark needs it"

# A private copy of what we measure: others may rebuild the tree meanwhile.
mkdir -p "$WORK/bin" "$WORK/plugin" "$WORK/empty" "$OUTDIR"
cp "$TOP/build/plugin/cpuport_plugin.so" "$WORK/plugin/"
cp "$TOP/build/bin/cpuport" "$TOP/build/bin/cpuport-select" "$WORK/bin/"
PLUG=$WORK/plugin CPUPORT=$WORK/bin/cpuport
export CPUPORT_HELPER=$WORK/bin/cpuport-select
unset CPUPORT_TARGET CPUPORT_DISABLE CPUPORT_TIMEOUT_MS
# the upgrade rows start processes masked as on an older CPU: re-select without that mask
export CPUPORT_UNMASK=1
[ ! -e /etc/cpuport.conf ] || echo "note: /etc/cpuport.conf exists and applies to these runs"

# The bench programs, built now with the project's compiler and library.
CC=${CC:-gcc}
DEPS_LIBS=$(PKG_CONFIG_PATH=/usr/local/lib/pkgconfig:${PKG_CONFIG_PATH:-} \
	pkg-config --libs libelf liblzma libprotobuf-c capstone libcpuid)
$CC -O2 -g -fno-builtin -Wall -Werror -o "$WORK/bin/strbench" "$BENCH/strbench.c"
$CC -O2 -g -Wall -Werror -o "$WORK/bin/tree" "$BENCH/tree.c"
cp "$OUTDIR/tcmd" "$WORK/bin/tcmd"
cp "$FIX/scale" "$WORK/bin/scale"
# cpuport's on-disk cache (facts about files, keyed by build-id): a private
# one, empty at the start; the warm-up run of each load fills it
export CPUPORT_CACHE_DIR=$WORK/cache
mkdir -m 700 "$CPUPORT_CACHE_DIR"
$CC -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$TOP/resolver" -I"$TOP/build" \
	-o "$WORK/bin/probe" "$BENCH/probe.c" "$TOP/build/libcpuport.a" $DEPS_LIBS

RAW=$OUTDIR/raw.tsv
LOGS=$OUTDIR/logs
rm -rf "$LOGS" && mkdir -p "$LOGS"
printf 'section\tworkload\tmode\trep\tkey\tvalue\n' >"$RAW"
rec() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; }
T0=$SECONDS

# run_timed CMD...: wall time in T_US (µs), CPU time (user + system) in
# T_CPU (µs) and peak RSS in T_RSS (KiB) of CMD and the children it reaped;
# returns CMD's status.
run_timed() {
	local rc=0 u s
	"$WORK/bin/tcmd" "$WORK/timing" "$@" || rc=$?
	read -r T_US u s T_RSS <"$WORK/timing"
	T_CPU=$((u + s))
	return $rc
}

# tree_pids ROOT: ROOT and its children
tree_pids() {
	echo "$1"
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' || true
}

kill_tree() {
	local p pids
	pids=$(tree_pids "$1")
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	for p in $pids; do wait_gone "$p"; done
}

# start_load KIND OUT: start a workload of KIND, wait until it works; sets PID
start_load() {
	local kind=$1 out=$2 i
	case $kind in
	fixture) start_workload "$FIX/workload" "$out" ;;
	python)
		setsid $PY -W ignore "$BENCH/pyload.py" "$out" </dev/null >/dev/null 2>&1 &
		PID=$!
		disown "$PID"
		PIDS+=("$PID")
		wait_lines "$out" 3
		;;
	tree)
		setsid "$WORK/bin/tree" "$out" $TREE_N </dev/null >/dev/null 2>&1 &
		PID=$!
		disown "$PID"
		PIDS+=("$PID")
		for i in $(seq 0 $((TREE_N - 1))); do wait_lines "$out.$i" 2; done
		;;
	esac
}

# root output file of a load
root_out() { if [ "$1" = tree ]; then echo "$2.0"; else echo "$2"; fi; }

# timed_dump PID IMG PLUGINDIR: sets T_US, T_RSS; the dumped tree is gone after
timed_dump() {
	local pid=$1 img=$2 dir=$3 pids
	pids=$(tree_pids "$pid")
	mkdir -p "$img"
	run_timed "$CRIU" dump -t "$pid" -D "$img" -L "$dir" -v3 -o dump.log ||
		{ tail -n 20 "$img/dump.log"; die "criu dump of $pid failed"; }
	for p in $pids; do wait_gone "$p"; done
}

# timed_restore IMG PLUGINDIR [criu options]: sets T_US, T_RSS, PID
timed_restore() {
	local img=$1 dir=$2; shift 2
	rm -f "$img/restored.pid"
	run_timed "$CRIU" restore -D "$img" -L "$dir" -d -v3 -o restore.log --pidfile "$img/restored.pid" "$@" ||
		{ tail -n 20 "$img/restore.log"; die "criu restore from $img failed"; }
	PID=$(cat "$img/restored.pid")
	PIDS+=("$PID")
}

# check_restored KIND OUT PID: the restored load keeps working
check_restored() {
	local kind=$1 out=$2 pid=$3 f n
	f=$(root_out "$kind" "$out")
	n=$(cat "$f" 2>/dev/null | wc -l)
	wait_lines "$f" $((n + 2))
	alive "$pid" || die "restored $kind ($pid) died"
	grep -q BAD "$f" && die "restored $kind wrote BAD lines"
	if [ "$kind" = tree ]; then
		n=$(tree_pids "$pid" | wc -l)
		[ "$n" -eq $TREE_N ] || die "restored tree has $n processes, not $TREE_N"
	fi
	return 0
}

# log_end LOG: criu's own elapsed time at its last line (µs)
log_end() {
	local t
	t=$(tail -n1 "$1" | sed -n 's/^(\([0-9]*\)\.\([0-9]*\)).*/\1\2/p')
	echo $((10#${t:-0}))
}

# hooks_us LOG: time inside the plugin's per-process hooks, from criu's own
# timestamps: from the last line before each hook to its summary line (the
# plugin's other lines in between do not count as a start)
hooks_us() {
	awk '{ if (!match($0, /^\([0-9.]+\)/)) next; ts = substr($0, 2, RLENGTH - 2) + 0 }
	/cpuport: pid [0-9]+: (recorded|re-patched)/ { sum += ts - start; start = ts; next }
	/cpuport:/ { next }
	{ start = ts }
	END { printf "%d\n", sum * 1e6 }' "$1"
}

# keep the plugin's lines (and criu's errors) of a log
keep_log() { grep -E 'cpuport:|Error|Dumping finished|Restore finished' "$1" >"$2" || true; }

# count_objects PID: distinct shared objects mapped
count_objects() { awk '$6 ~ /\.so(\.|$)/ {print $6}' /proc/"$1"/maps | sort -u | wc -l; }

#
# 1. Overhead: dump and restore with the plugin vs without, interleaved.
#
overhead() {
	local kind=$1 rep mode order img dir out n
	info "overhead: $kind ($RUNS runs per mode, interleaved, + 1 warm-up)"
	for rep in $(seq 0 "$RUNS"); do
		if [ $((rep % 2)) = 0 ]; then order="plugin none"; else order="none plugin"; fi
		for mode in $order; do
			out=$WORK/$kind-$mode-$rep.out img=$WORK/img-$kind-$mode-$rep
			if [ $mode = plugin ]; then dir=$PLUG; else dir=$WORK/empty; fi
			start_load "$kind" "$out"
			if [ "$rep" = 0 ] && [ $mode = plugin ]; then
				n=$(count_objects "$PID")
				[ "$kind" != python ] || [ "$n" -ge 50 ] ||
					die "python3 maps only $n shared objects (>= 50 wanted): stdlib C extensions missing?"
				rec overhead "$kind" - 0 objects "$n"
				rec overhead "$kind" - 0 processes "$(tree_pids "$PID" | wc -l)"
			fi
			timed_dump "$PID" "$img" "$dir"
			[ "$rep" = 0 ] || { rec overhead "$kind" $mode "$rep" dump_us "$T_US"
				rec overhead "$kind" $mode "$rep" dump_cpu_us "$T_CPU"
				rec overhead "$kind" $mode "$rep" dump_log_us "$(log_end "$img/dump.log")"
				rec overhead "$kind" $mode "$rep" dump_hooks_us "$(hooks_us "$img/dump.log")"
				rec overhead "$kind" $mode "$rep" dump_rss_kb "$T_RSS"; }
			if [ -n "${BENCH_DUMP_ONLY:-}" ]; then
				keep_log "$img/dump.log" "$LOGS/overhead-$kind-$mode-$rep.dump"
				rm -rf "$img" "$out"*
				continue
			fi
			timed_restore "$img" "$dir"
			[ "$rep" = 0 ] || { rec overhead "$kind" $mode "$rep" restore_us "$T_US"
				rec overhead "$kind" $mode "$rep" restore_cpu_us "$T_CPU"
				rec overhead "$kind" $mode "$rep" restore_log_us "$(log_end "$img/restore.log")"
				rec overhead "$kind" $mode "$rep" restore_hooks_us "$(hooks_us "$img/restore.log")"
				rec overhead "$kind" $mode "$rep" restore_rss_kb "$T_RSS"; }
			check_restored "$kind" "$out" "$PID"
			kill_tree "$PID"
			keep_log "$img/dump.log" "$LOGS/overhead-$kind-$mode-$rep.dump"
			keep_log "$img/restore.log" "$LOGS/overhead-$kind-$mode-$rep.restore"
			rm -rf "$img" "$out"*
		done
	done
}

#
# 2. Upgrade throughput: three strbench processes, (c) fresh unmasked and two
#    started masked to SSE2, which are then dumped and restored (a) by criu
#    alone and (b) with cpuport.  Only one of them runs at a time: each in
#    turn is let run (SIGCONT) for two windows of CPU time and stopped again,
#    so that every cycle compares the three under the same conditions.
#
# slice NAME PID OUT MODE TAG: run PID for two windows; its rate (iterations
# per CPU-second over the windows that completed) into raw.tsv
slice() {
	local pid=$2 out=$3 n
	n=$(wc -l <"$out")
	kill -CONT "$pid"
	wait_lines "$out" $((n + 2))
	kill -STOP "$pid"
	tail -n "+$((n + 1))" "$out" | awk -v lo=$((WINDOW_MS * 900000)) -v hi=$((WINDOW_MS * 1500000)) '
		{ split($2, a, "="); split($3, b, "=") }
		# a restored thread'"'"'s CPU clock restarts: that window is no rate
		b[2] >= lo && b[2] <= hi { it += a[2]; ns += b[2] }
		END { if (ns) printf "%.0f\n", it * 1e9 / ns }' >"$WORK/rate"
	if [ -s "$WORK/rate" ]; then rec throughput strbench "$4" "$5" slice_ips "$(cat "$WORK/rate")"; fi
	alive "$pid" || die "strbench ($4) died"
}
bound() {	# PID SYMBOL: the variant bound to SYMBOL's slot in the executable
	"$CPUPORT" scan --json "$1" >"$WORK/scan.json"
	json_slot_target "$WORK/scan.json" "$2" strbench
}
start_strbench() {	# OUT [env...]: started, first window written, stopped; sets PID
	env "${@:2}" setsid "$WORK/bin/strbench" "$1" $WINDOW_MS </dev/null >/dev/null 2>&1 &
	PID=$!
	disown "$PID"
	PIDS+=("$PID")
	wait_lines "$1" 1
	kill -STOP "$PID"
}
throughput() {
	local round cycle m img s order
	local -A pid out
	info "upgrade throughput: $ROUNDS rounds; $CYCLES_BEFORE cycles before the dump, $CYCLES after; 2 x $WINDOW_MS ms CPU windows per slice"
	for round in $(seq 1 "$ROUNDS"); do
		for m in fresh masked1 masked2; do out[$m]=$WORK/sb-$m-$round.out; done
		start_strbench "${out[fresh]}"; pid[fresh]=$PID
		start_strbench "${out[masked1]}" GLIBC_TUNABLES=$MASK; pid[masked1]=$PID
		start_strbench "${out[masked2]}" GLIBC_TUNABLES=$MASK; pid[masked2]=$PID
		for cycle in $(seq 1 "$CYCLES_BEFORE"); do
			for m in fresh masked1 masked2; do
				slice "$m" "${pid[$m]}" "${out[$m]}" "$(if [ $m = fresh ]; then echo fresh-before; else echo masked; fi)" "$round.$cycle"
			done
		done
		if [ "$round" = 1 ]; then
			for s in memcpy strlen strchr; do
				rec throughput strbench fresh 1 "bound_$s" "$(bound "${pid[fresh]}" $s)"
				rec throughput strbench masked 1 "bound_$s" "$(bound "${pid[masked1]}" $s)"
			done
		fi
		# (a) criu alone, (b) cpuport: dumped running, restored, stopped again
		for m in criu cpuport; do
			if [ $m = criu ]; then PID=${pid[masked1]} out[criu]=${out[masked1]}
			else PID=${pid[masked2]} out[cpuport]=${out[masked2]}; fi
			img=$WORK/img-sb-$m-$round
			kill -CONT "$PID"
			timed_dump "$PID" "$img" "$PLUG"
			if [ $m = criu ]; then CPUPORT_DISABLE=1 timed_restore "$img" "$PLUG"
			else timed_restore "$img" "$PLUG"; fi
			kill -STOP "$PID"
			pid[$m]=$PID
			keep_log "$img/restore.log" "$LOGS/throughput-$m-$round.restore"
		done
		if [ "$round" = 1 ]; then
			for s in memcpy strlen strchr; do
				for m in criu cpuport; do rec throughput strbench $m 1 "bound_$s" "$(bound "${pid[$m]}" $s)"; done
			done
		fi
		for cycle in $(seq 1 "$CYCLES"); do
			case $((cycle % 3)) in
			1) order="fresh criu cpuport" ;; 2) order="criu cpuport fresh" ;; 0) order="cpuport fresh criu" ;;
			esac
			for m in $order; do slice "$m" "${pid[$m]}" "${out[$m]}" $m "$round.$cycle"; done
		done
		for m in fresh criu cpuport; do kill -9 "${pid[$m]}"; wait_gone "${pid[$m]}"; done
		rm -rf "$WORK"/img-sb-* "$WORK"/sb-*
	done
}

#
# 3. Scan speed over the python3 process; the helper's and library's peak RSS.
# 4. Restore cost split for python3: same CPU, upgrade (masked start) and
#    downgrade (CPUPORT_TARGET=$PY_DOWN), in criu and in the probe.
#    $PY_DOWN is Westmere (SSE4.2, AES-NI, PCLMULQDQ; no AVX): the python3 load
#    maps liblzma, whose constructor stores its PCLMULQDQ CRC function in a
#    writable pointer that cpuport cannot re-point, so a restore as x86-64-v2
#    (no PCLMULQDQ) is rightly refused; as Westmere its variants still change.
PY_DOWN=westmere
#
scan_speed() {
	local out=$WORK/scan.out
	info "scan speed: cpuport_scan() of python3 in the probe, $RUNS runs"
	start_load python "$out"
	"$WORK/bin/probe" scan "$PID" "$RUNS" >"$WORK/scan.json" || die "probe scan failed"
	$PY - "$WORK/scan.json" >>"$RAW" <<'PY'
import json, sys
for i, line in enumerate(open(sys.argv[1]), 1):
    for k, v in json.loads(line).items():
        print(f"scan\tpython\t-\t{i}\t{k}\t{v}")
PY
	kill_tree "$PID"
}

# what a criu run pays once, before any process: loading the plugin (in a
# fresh process that maps only libc) and its init (CPU identification)
fixed_costs() {
	local i
	info "fixed costs: loading the plugin and cpuport_ctx__new(), $RUNS runs"
	for i in $(seq 1 "$RUNS"); do
		rec fixed plugin - "$i" load_ns "$("$WORK/bin/tcmd" --dlopen "$PLUG/cpuport_plugin.so")"
	done
	"$WORK/bin/probe" init "$RUNS" | sed -n 's/^{"init_ns":\([0-9]*\)}$/\1/p' | nl -w1 -s' ' |
		while read -r i v; do rec fixed plugin - "$i" init_ns "$v"; done
}

restore_split() {
	local reps=$(((RUNS + 1) / 2)) i scen img out
	local -A imgs outs
	info "restore cost split: python3 same CPU / upgrade / downgrade, $reps runs each, in criu and in the probe"
	# same CPU (and downgrade): python3 as started here; upgrade: started as on an SSE2-only CPU
	for scen in same upgrade; do
		outs[$scen]=$WORK/split-$scen.out imgs[$scen]=$WORK/img-split-$scen
		if [ $scen = same ]; then start_load python "${outs[$scen]}"
		else GLIBC_TUNABLES=$MASK start_load python "${outs[$scen]}"; fi
		timed_dump "$PID" "${imgs[$scen]}" "$PLUG"
	done
	imgs[downgrade]=${imgs[same]} outs[downgrade]=${outs[same]}
	for i in $(seq 1 "$reps"); do
		for scen in same upgrade downgrade; do
			img=${imgs[$scen]} out=${outs[$scen]}
			# in criu, with the plugin
			if [ $scen = downgrade ]; then CPUPORT_TARGET=$PY_DOWN timed_restore "$img" "$PLUG"
			else timed_restore "$img" "$PLUG"; fi
			rec split python $scen "$i" restore_us "$T_US"
			check_restored python "$out" "$PID"
			kill_tree "$PID"
			keep_log "$img/restore.log" "$LOGS/split-$scen-$i.restore"
			# outside criu: criu restores it stopped with the plugin disabled, the probe patches it
			CPUPORT_DISABLE=1 timed_restore "$img" "$PLUG" -s
			if [ $scen = downgrade ]; then CPUPORT_TARGET=$PY_DOWN "$WORK/bin/probe" restore "$img" "$PID"
			else "$WORK/bin/probe" restore "$img" "$PID"; fi >"$WORK/probe.json" || die "probe restore failed"
			kill -CONT "$PID"
			check_restored python "$out" "$PID"
			$PY - "$WORK/probe.json" "$scen" "$i" >>"$RAW" <<'PY'
import json, sys
for k, v in json.load(open(sys.argv[1])).items():
    print(f"probe\tpython\t{sys.argv[2]}\t{sys.argv[3]}\t{k}\t{v}")
PY
			kill_tree "$PID"
		done
	done
}

#
# 5. Scale and repeated restores.
#
# start_scale OUT NPROCS ARGS...: the scale fixture, every process written a line
start_scale() {
	local out=$1 n=$2 i
	shift 2
	setsid "$WORK/bin/scale" "$out" "$@" </dev/null >/dev/null 2>&1 &
	PID=$!
	disown "$PID"
	PIDS+=("$PID")
	for i in $(seq 0 $((n - 1))); do
		while [ ! -s "$out.$i" ]; do alive "$PID" || die "scale $* died"; sleep 0.05; done
	done
}
# check_scale OUT PID NPROCS: every process keeps writing ok lines
check_scale() {
	local out=$1 pid=$2 n=$3 i f before last
	alive "$pid" || die "restored scale load ($pid) died"
	for i in $(seq 0 $((n - 1))); do
		f=$out.$i
		before=$(wc -l <"$f")
		wait_lines "$f" $((before + 2))
		last=$(tail -n1 "$f")
		case $last in *" ok "*) ;; *) die "restored scale load: $f: $last" ;; esac
	done
	[ "$(tree_pids "$pid" | wc -l)" -eq "$n" ] || die "restored scale load has not $n processes"
}

# scale_case NAME NPROCS ARGS...: dump + restore with the plugin (restored as
# here, then the same checkpoint again as on x86-64-v2) vs without
scale_case() {
	local name=$1 n=$2 rep mode order img dir out
	shift 2
	info "scale: $name ($SCALE_RUNS runs per mode, interleaved, + 1 warm-up)"
	for rep in $(seq 0 "$SCALE_RUNS"); do
		if [ $((rep % 2)) = 0 ]; then order="plugin none"; else order="none plugin"; fi
		for mode in $order; do
			out=$WORK/sc-$name-$mode-$rep.out img=$WORK/img-sc-$name-$mode-$rep
			if [ $mode = plugin ]; then dir=$PLUG; else dir=$WORK/empty; fi
			start_scale "$out" "$n" "$@"
			if [ "$rep" = 0 ] && [ $mode = plugin ]; then
				rec scale "$name" - 0 objects "$(count_objects "$PID")"
				rec scale "$name" - 0 processes "$(tree_pids "$PID" | wc -l)"
				rec scale "$name" - 0 threads "$(ls /proc/"$PID"/task | wc -l)"
				rec scale "$name" - 0 rss_kb "$(awk '/^VmRSS/ {print $2}' /proc/"$PID"/status)"
			fi
			timed_dump "$PID" "$img" "$dir"
			[ "$rep" = 0 ] || { rec scale "$name" $mode "$rep" dump_us "$T_US"
				rec scale "$name" $mode "$rep" dump_cpu_us "$T_CPU"; }
			if [ -n "${BENCH_DUMP_ONLY:-}" ]; then
				keep_log "$img/dump.log" "$LOGS/scale-$name-$mode-$rep.dump"
				rm -rf "$img" "$out"*
				continue
			fi
			timed_restore "$img" "$dir"
			[ "$rep" = 0 ] || { rec scale "$name" $mode "$rep" restore_us "$T_US"
				rec scale "$name" $mode "$rep" restore_cpu_us "$T_CPU"; }
			check_scale "$out" "$PID" "$n"
			kill_tree "$PID"
			keep_log "$img/restore.log" "$LOGS/scale-$name-$mode-$rep.restore"
			keep_log "$img/dump.log" "$LOGS/scale-$name-$mode-$rep.dump"
			if [ $mode = plugin ]; then
				CPUPORT_TARGET=x86-64-v2 timed_restore "$img" "$dir"
				[ "$rep" = 0 ] || { rec scale "$name" plugin-v2 "$rep" restore_us "$T_US"
					rec scale "$name" plugin-v2 "$rep" restore_cpu_us "$T_CPU"; }
				check_scale "$out" "$PID" "$n"
				kill_tree "$PID"
				keep_log "$img/restore.log" "$LOGS/scale-$name-plugin-v2-$rep.restore"
			fi
			rm -rf "$img" "$out"*
		done
	done
}

scale() {
	local mib i cases=" ${BENCH_SCALE_CASES:-heap procs50x8 dlopen200} "
	[[ $cases != *" heap "* ]] || for mib in $HEAPS; do scale_case "heap$mib" 1 heap "$mib" ptrs 1000; done
	[[ $cases != *" procs50x8 "* ]] || scale_case procs50x8 50 procs 50 threads 7
	[[ $cases == *" dlopen200 "* ]] || return 0
	mkdir -p "$WORK/libs"
	for i in $(seq -w 1 200); do
		$CC -O2 -fPIC -shared -Wl,-soname,libscale$i.so -o "$WORK/libs/libscale$i.so" \
			"$TOP/tests/fixtures/scale_lib.c"
	done
	scale_case dlopen200 1 libs "$WORK/libs"
}

# One checkpoint restored again and again: python3 dumped once with the
# plugin and once without; the two restored alternately, RUNS times each.
repeat() {
	local rep mode order img out
	local -A imgs outs
	info "repeated restore: one python3 checkpoint restored $RUNS times per mode, interleaved (+ 1 warm-up)"
	for mode in plugin none; do
		outs[$mode]=$WORK/rp-$mode.out imgs[$mode]=$WORK/img-rp-$mode
		start_load python "${outs[$mode]}"
		if [ $mode = plugin ]; then timed_dump "$PID" "${imgs[$mode]}" "$PLUG"
		else timed_dump "$PID" "${imgs[$mode]}" "$WORK/empty"; fi
	done
	for rep in $(seq 0 "$RUNS"); do
		if [ $((rep % 2)) = 0 ]; then order="plugin none"; else order="none plugin"; fi
		for mode in $order; do
			img=${imgs[$mode]} out=${outs[$mode]}
			if [ $mode = plugin ]; then timed_restore "$img" "$PLUG"
			else timed_restore "$img" "$WORK/empty"; fi
			[ "$rep" = 0 ] || { rec repeat python $mode "$rep" restore_us "$T_US"
				rec repeat python $mode "$rep" restore_cpu_us "$T_CPU"; }
			check_restored python "$out" "$PID"
			kill_tree "$PID"
			[ $mode = none ] || keep_log "$img/restore.log" "$LOGS/repeat-$mode-$rep.restore"
		done
	done
}

info "cpuport bench: $RUNS runs per mode, $ROUNDS throughput rounds; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
STEPS=${BENCH_STEPS:-"overhead:fixture overhead:python overhead:tree throughput scan_speed fixed_costs restore_split repeat scale"}
for step in $STEPS; do
	t=$SECONDS
	${step/:/ }
	rec meta - - - "seconds_${step/:/_}" $((SECONDS - t))
done
rec meta - - - seconds "$((SECONDS - T0))"
rec meta - - - runs "$RUNS"
rec meta - - - rounds "$ROUNDS"
rec meta - - - loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

[ -n "${BENCH_STEPS:-}" ] || "$PY" "$BENCH/report.py" "$OUTDIR" "$TOP"

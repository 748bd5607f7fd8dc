#!/bin/bash
# Upgrade: a process started as on an older CPU (glibc masked to SSE2/SSSE3)
# is dumped and restored with the plugin and CPUPORT_UNMASK=1: it is then bound
# to this CPU's best variants and keeps producing correct output.  Restored with
# the plugin disabled it keeps the old variants (the control).  Restored with
# the plugin but without CPUPORT_UNMASK it keeps them too: its own
# GLIBC_TUNABLES, recorded at dump, apply at restore (issue 13, defect 11).
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "this CPU has no AVX2: nothing to upgrade to"

MASK=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX2,-AVX,-AVX_Fast_Unaligned_Load,-ERMS,-FSRM
for mode in plugin masked disabled; do
	out=$WORK/$mode.out img=$WORK/img-$mode
	GLIBC_TUNABLES=$MASK start_workload "$FIX/workload" "$out"
	"$CPUPORT" scan --json "$PID" >"$WORK/before.json"
	before=$(json_slot_target "$WORK/before.json" strlen libc.so.6)
	[ "$before" = __strlen_sse2 ] || die "masked start should bind __strlen_sse2, got $before"
	dump "$PID" "$img"
	case $mode in
	plugin) CPUPORT_UNMASK=1 restore "$img" ;;
	masked) restore "$img" ;;
	*) CPUPORT_DISABLE=1 restore "$img" ;;
	esac || die "restore ($mode) failed"
	check_running "$out" "$PID"
	"$CPUPORT" scan --json "$PID" >"$WORK/after.json"
	for sym in strlen memmove memset strchr; do
		was=$(json_slot_target "$WORK/before.json" $sym libc.so.6)
		now=$(json_slot_target "$WORK/after.json" $sym libc.so.6)
		info "$mode: $sym $was -> $now"
		if [ $mode = plugin ]; then
			case $now in *avx*|*evex*) ;; *) die "$sym not upgraded: $now" ;; esac
		else
			[ "$now" = "$was" ] || die "$mode: $sym changed: $was -> $now"
		fi
	done
	if [ $mode = masked ]; then
		grep -q "its own GLIBC_TUNABLES=$MASK" "$img/restore.log" ||
			die "the process's GLIBC_TUNABLES were not recorded at dump and used at restore"
	fi
	if [ $mode != disabled ]; then
		# later dlsym() re-runs resolvers on the refreshed cpu_features
		sleep 0.2
		dl=$(awk '$1=="dlsym" && $2=="strlen" {print $3}' "$out.bind")
		fp=$(awk '$1=="fp" && $2=="strlen" {print $3}' "$out.bind")
		[ "$dl" = "$fp" ] || die "dlsym(strlen)=$dl but the GOT holds $fp: cpu_features not refreshed"
	fi
	kill -9 "$PID"
done

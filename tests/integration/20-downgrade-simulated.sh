#!/bin/bash
# Downgrade (simulated): start unmasked, dump with the plugin, restore with
# CPUPORT_TARGET=x86-64-v2 (then haswell): every slot shows a variant valid on
# that target, libgcc/ld.so answer for it, and the process keeps producing
# correct output.  Covers PIE lazy, -z now and non-PIE executables.
. "$(dirname "$0")/../lib.sh"
require_criu

for bin in workload workload-now workload-nopie; do
	for target in x86-64-v2 haswell; do
		info "$bin -> $target"
		out=$WORK/$bin-$target.out img=$WORK/img-$bin-$target
		start_workload "$FIX/$bin" "$out"
		dump "$PID" "$img"
		CPUPORT_TARGET=$target restore "$img" || die "restore failed"
		grep -q 'cpuport: pid .* re-patched' "$img/restore.log" || die "no re-patch summary in restore.log"
		check_running "$out" "$PID"
		"$CPUPORT" scan --json "$PID" >"$WORK/scan.json"
		# nothing bound may need more than the target has
		python3 - "$WORK/scan.json" "$target" <<'PY' || die "a slot is still bound to a variant the target lacks"
import json, re, sys
d = json.load(open(sys.argv[1])); target = sys.argv[2]
bad = {"x86-64-v2": r"avx|evex|fma3?$|bmi|movbe", "haswell": r"avx512|evex"}[target]
offenders = [(s.get("symbol"), s["target"]["symbol"]) for s in d["slots"]
             if s.get("target") and s["target"].get("symbol") and re.search(bad, s["target"]["symbol"])]
print("offenders:", offenders)
sys.exit(1 if offenders else 0)
PY
		bind=$out.bind
		sleep 0.2
		if [ "$target" = x86-64-v2 ]; then
			grep -q 'cpu_supports avx2 0 avx512f 0 lib_avx2 0' "$bind" ||
				die "libgcc model not refreshed: $(grep cpu_supports "$bind")"
		fi
		sym=$(json_slot_target "$WORK/scan.json" strlen "$bin")
		info "strlen in $bin now bound to $sym"
		kill -9 "$PID"
	done
done

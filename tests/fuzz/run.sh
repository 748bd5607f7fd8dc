#!/bin/bash
# Runs the libFuzzer targets on a working corpus seeded from tests/fuzz/seeds
# (images) and from real ELF files (fixtures, libc, ld.so).
#   run.sh smoke SECONDS   each target for SECONDS (CI)
#   run.sh runs N          each target for N executions (prints execs/s)
# Exit non-zero on any crash, leak or sanitizer report.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mode=$1 n=$2
corpus=$top/build/fuzz/corpus
mkdir -p "$corpus/image" "$corpus/elf" "$corpus/elf_blob"
cp -n "$top"/tests/fuzz/seeds/image/* "$corpus/image/" 2>/dev/null || true
for f in "$top"/build/fixtures/libclones.so "$top"/build/fixtures/workload-nopie /bin/true \
	/usr/lib/x86_64-linux-gnu/libm.so.6; do
	[ -f "$f" ] && cp -n "$f" "$corpus/elf/$(basename "$f")" || true
done
rc=0
for t in image elf elf_blob; do
	if [ "$mode" = smoke ]; then limit=(-max_total_time="$n"); else limit=(-runs="$n"); fi
	echo "== fuzz_$t (${mode} $n)"
	"$top/build/fuzz/fuzz_$t" "${limit[@]}" -max_len=1048576 -rss_limit_mb=2048 -print_final_stats=1 \
		"$corpus/$t" >"$top/build/fuzz/fuzz_$t.log" 2>&1 || rc=1
	grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY' \
		"$top/build/fuzz/fuzz_$t.log" || true
done
[ $rc = 0 ] && echo "fuzzing: no crashes" || { echo "fuzzing found a problem: see build/fuzz/*.log and crash-* files"; exit 1; }

#!/bin/bash
# A process tree in its own pid namespace (init of the namespace, a forked
# child, worker threads in both): one image per process keyed by the
# innermost pid; restored as on x86-64-v2, every process and thread keeps
# producing correct output.
. "$(dirname "$0")/../lib.sh"
require_criu
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"

out=$WORK/tree.out
unshare --pid --fork setsid "$FIX/workload" "$out" threads 2 fork </dev/null >/dev/null 2>&1 &
disown
wait_lines "$out" 3
wait_lines "$out.child" 3
wait_lines "$out.t1" 3
wait_lines "$out.child.t2" 3
# the tree's root is unshare's child: pid 1 in the new namespace
root=$(pgrep -f "^$FIX/workload $out" | while read -r p; do
	if grep -q "NSpid:.*[[:space:]]1$" "/proc/$p/status"; then echo "$p"; fi; done | sed -n 1p)
[ -n "$root" ] || die "no pid-namespace init found"
PIDS+=("$root")
dump "$root" "$WORK/img"
n=$(ls "$WORK/img"/cpuport-*.img | wc -l)
[ "$n" -eq 2 ] || die "expected 2 cpuport images (parent, child), found $n"
[ -f "$WORK/img/cpuport-1.img" ] && [ -f "$WORK/img/cpuport-2.img" ] ||
	die "images are not keyed by the innermost pid: $(ls "$WORK/img"/cpuport-*.img)"
[ "$(grep -c 'cpuport: pid .* recorded' "$WORK/img/dump.log")" -eq 2 ] || die "expected 2 dump summary lines"

CPUPORT_TARGET=x86-64-v2 restore "$WORK/img" || die "restore failed"
[ "$(grep -c 'cpuport: pid .* re-patched' "$WORK/img/restore.log")" -eq 2 ] || die "expected 2 restore summary lines"
for f in "$out" "$out.t1" "$out.t2" "$out.child" "$out.child.t1" "$out.child.t2"; do
	check_running "$f" "$PID"
done
sleep 0.2
grep -q 'cpu_supports avx2 0' "$out.child.bind" || die "child's libgcc model not refreshed"

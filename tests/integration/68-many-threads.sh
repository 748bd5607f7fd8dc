#!/bin/bash
# Failing closed works for any number of threads (issue 13, defect 13): a pid-namespace init with
# 4200 threads (more than the 4096 the plugin used to reap) is restored with an injected failure.
# The plugin kills it and reaps every thread CRIU traces, so criu restore exits (non-zero) instead
# of waiting forever for the init, and nothing of it runs.
. "$(dirname "$0")/../lib.sh"
require_criu
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
N=4200
[ "$(cat /proc/sys/kernel/threads-max)" -gt $((N * 4)) ] || skip "threads-max too low for $N threads"
[ "$(ulimit -u)" = unlimited ] || [ "$(ulimit -u)" -gt $((N * 2)) ] || skip "ulimit -u too low for $N threads"

out=$WORK/many.out
unshare --pid --fork setsid "$FIX/scale" "$out" idle $N </dev/null >/dev/null 2>&1 &
disown
wait_lines "$out.0" 2
root=$(pgrep -f "^$FIX/scale $out" | while read -r p; do
	if grep -q "NSpid:.*[[:space:]]1$" "/proc/$p/status"; then echo "$p"; fi; done | sed -n 1p)
[ -n "$root" ] || die "no pid-namespace init found"
PIDS+=("$root")
for i in $(seq 100); do
	[ "$(ls "/proc/$root/task" | wc -l)" -gt $N ] && break
	sleep 0.1
done
[ "$(ls "/proc/$root/task" | wc -l)" -gt $N ] || die "the fixture did not start $N threads"
dump "$root" "$WORK/img"
rc=0
t0=${EPOCHREALTIME/./}
CPUPORT_FAULT=nomem timeout 120 "$CRIU" restore -D "$WORK/img" -L "$PLUGIN_DIR" -d -v1 -o restore.log \
	--pidfile "$WORK/img/p" || rc=$?
el=$(((${EPOCHREALTIME/./} - t0) / 1000))
[ "$rc" -ne 124 ] || die "criu restore hung (killed after 120 s): the killed init's threads were not all reaped"
[ "$rc" -ne 0 ] || die "criu restore reported success"
grep -q 'killing the restored process' "$WORK/img/restore.log" || die "the plugin did not refuse"
# 4200 threads take a while to exit after the SIGKILL: allow 10 s
if [ -f "$WORK/img/p" ]; then gone_within "$(cat "$WORK/img/p")" 10 "$FIX/scale" || die "the process runs"; fi
for i in $(seq 200); do pgrep -f "^$FIX/scale $out" >/dev/null || break; sleep 0.05; done
! pgrep -f "^$FIX/scale $out" >/dev/null || die "a process of the fixture is still running"
info "$N threads: refused and reaped, criu exited $rc after $el ms"

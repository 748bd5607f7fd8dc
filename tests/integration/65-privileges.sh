#!/bin/bash
# Code from the checkpointed program's files never runs as root: re-selection
# for a process running as nobody runs the selection helper (which executes
# that program's resolvers and library constructors) as nobody's uid/gid with
# no_new_privs, although cpuport itself runs as root.
# (criu cannot dump another uid's process in this sandbox: root lacks
# CAP_SYS_RESOURCE for prlimit. So this drives the same library path with
# `cpuport repatch` on a stopped process, as for `criu restore -s`.)
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"

chmod 755 "$WORK"
mkdir -m 777 "$WORK/out"
out=$WORK/out/w.out
# nobody may not reach the clone (under /root, mode 700, on a fresh machine): the workload,
# its library and the selection helper run from copies in $WORK (LD_LIBRARY_PATH: the
# workload's RUNPATH is in the clone)
mkdir -m 755 "$WORK/bin"
cp "$FIX/workload" "$FIX/libclones.so" "$CPUPORT_HELPER" "$WORK/bin/"
export CPUPORT_HELPER=$WORK/bin/${CPUPORT_HELPER##*/}
LD_LIBRARY_PATH=$WORK/bin setsid setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$WORK/bin/workload" "$out" </dev/null >/dev/null 2>&1 &
PID=$!
disown
PIDS+=("$PID")
wait_lines "$out" 3
[ "$(stat -c %u "/proc/$PID")" = 65534 ] || die "workload does not run as uid 65534"
"$CPUPORT" scan -o "$WORK/table.img" "$PID" >/dev/null
kill -STOP "$PID"
sleep 0.1
"$CPUPORT" -v --target x86-64-v2 repatch "$PID" "$WORK/table.img" >"$WORK/repatch.out" 2>&1 ||
	{ cat "$WORK/repatch.out"; die "repatch failed"; }
grep -q 'selection helper runs as uid 65534 gid 65534, no_new_privs 1' "$WORK/repatch.out" ||
	{ cat "$WORK/repatch.out"; die "helper did not run as the task's uid/gid with no_new_privs"; }
info "$(grep -m1 'selection helper runs as' "$WORK/repatch.out" | sed 's/^.*debug: //')"
kill -CONT "$PID"
check_running "$out" "$PID"
"$CPUPORT" scan --json "$PID" >"$WORK/scan.json"
[ "$(json_slot_target "$WORK/scan.json" strlen libc.so.6)" = __strlen_sse2 ] || die "not re-patched for x86-64-v2"

# a running process is refused
"$CPUPORT" repatch "$PID" "$WORK/table.img" 2>"$WORK/err" && die "repatch of a running process succeeded"
grep -q 'is not stopped' "$WORK/err" || die "no clear message for a running process"

#!/bin/bash
# The selection helper runs with no more privilege than the process it re-selects for (issue 13,
# defect 1). A workload runs as uid 1000 (groups 1000, 1001) inside its own user, pid, mount, net,
# ipc and uts namespaces and its own cgroup (v2); `cpuport repatch` (the library path of
# `criu restore`) re-patches it, and the helper reports what the kernel says of itself
# (/proc/self/status, /proc/self/ns/*, /proc/self/cgroup). Checked against the workload's own:
#  - the same uid, gid and groups, as seen inside its user namespace;
#  - CapInh, CapPrm, CapEff, CapBnd, CapAmb all zero, NoNewPrivs 1, Seccomp 2 (filter);
#  - every namespace the same inode as the workload's, and the workload's cgroup;
# and then that the process runs on, re-patched; and that the helper's seccomp filter refuses fork,
# socket, setsid and exec.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v unshare >/dev/null && command -v setpriv >/dev/null || skip "unshare/setpriv (util-linux) missing"
cg2=$(awk '$9 == "cgroup2" && $4 == "/" {print $5; exit}' /proc/self/mountinfo)
[ -n "$cg2" ] || skip "no cgroup v2 hierarchy mounted"

chmod 755 "$WORK"
mkdir -m 777 "$WORK/out"
mkfifo -m 666 "$WORK/go"
out=$WORK/out/w.out
CG=$cg2/cpuport-test-$$
mkdir "$CG"
sb_cleanup() {
	cleanup
	rmdir "$CG" 2>/dev/null || true
}
trap sb_cleanup EXIT

# new namespaces, then (once the uid map is written) uid 1000
setsid sh -c "echo \$\$ > $CG/cgroup.procs; exec unshare --user --pid --fork --mount --mount-proc --net --ipc --uts \
	sh -c 'read x < $WORK/go; exec setpriv --reuid=1000 --regid=1000 --groups=1000,1001 $FIX/workload $out'" \
	</dev/null >"$WORK/unshare.log" 2>&1 &
PIDS+=("$!")
disown
for i in $(seq 100); do
	U=$(pgrep -f "unshare --user --pid --fork --mount --mount-proc --net --ipc --uts" | sed -n 1p) || true
	[ -n "$U" ] && [ "$(readlink "/proc/$U/ns/user")" != "$(readlink /proc/self/ns/user)" ] && break
	sleep 0.05
done
[ -n "$U" ] || die "unshare did not start: $(cat "$WORK/unshare.log")"
PIDS+=("$U")
# one write each: ns root is host root (so that the shell keeps its capabilities), the rest from 100001
python3 -c "
for f in ('uid_map', 'gid_map'):
    open('/proc/$U/' + f, 'w').write('0 0 1\n1 100001 65535\n')"
echo go >"$WORK/go"
wait_lines "$out" 3
PID=
for p in $(pgrep -f "$out"); do
	[ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$FIX/workload")" ] && PID=$p
done
[ -n "$PID" ] || die "workload not found"
PIDS+=("$PID")
grep -q "^Uid:.101000.101000" "/proc/$PID/status" || die "workload is not host uid 101000: $(grep Uid "/proc/$PID/status")"

"$CPUPORT" scan -o "$WORK/table.img" "$PID" >/dev/null
kill -STOP "$PID"
sleep 0.1
"$CPUPORT" -v --target x86-64-v2 repatch "$PID" "$WORK/table.img" >"$WORK/repatch.out" 2>&1 ||
	{ cat "$WORK/repatch.out"; die "repatch failed"; }
kill -CONT "$PID"
sed -n 's/^.*selection helper sandbox: //p' "$WORK/repatch.out" >"$WORK/sandbox"
[ -s "$WORK/sandbox" ] || { cat "$WORK/repatch.out"; die "the helper reported no sandbox lines"; }
field() { sed -n "s/^$1 //p" "$WORK/sandbox" | sed 's/ *$//'; }

[ "$(field Uid)" = "1000 1000 1000 1000" ] || die "helper uid: $(field Uid), want 1000 (the task's, in its user ns)"
[ "$(field Gid)" = "1000 1000 1000 1000" ] || die "helper gid: $(field Gid)"
[ "$(field Groups)" = "1000 1001" ] || die "helper groups: '$(field Groups)', want '1000 1001'"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	[ "$(field $c)" = 0000000000000000 ] || die "helper $c = $(field $c), want 0"
done
[ "$(field NoNewPrivs)" = 1 ] || die "helper NoNewPrivs = $(field NoNewPrivs)"
[ "$(field Seccomp)" = 2 ] || die "helper Seccomp = $(field Seccomp), want 2 (filter)"
for ns in user mnt pid net ipc uts cgroup; do
	want=$(readlink "/proc/$PID/ns/$ns")
	grep -qxF "ns $want" "$WORK/sandbox" || die "helper not in the task's $ns namespace ($want): $(grep "^ns $ns" "$WORK/sandbox")"
done
while read -r line; do
	grep -qxF "cgroup $line" "$WORK/sandbox" || die "helper not in the task's cgroup $line"
done <"/proc/$PID/cgroup"
grep -qxF "cgroup 0::/cpuport-test-$$" "$WORK/sandbox" || die "helper not in the test's cgroup"
info "helper: uid $(field Uid), groups $(field Groups), CapEff $(field CapEff), CapBnd $(field CapBnd), seccomp $(field Seccomp), in the task's 7 namespaces and cgroup"
check_running "$out" "$PID"
"$CPUPORT" scan --json "$PID" >"$WORK/scan.json"
[ "$(json_slot_target "$WORK/scan.json" strlen libc.so.6)" = __strlen_sse2 ] || die "not re-patched for x86-64-v2"

# the helper cannot leave the process group a timeout kills, nor fork, nor open a socket: the
# seccomp filter answers EPERM (the helper's own filter, tried on a stand-in that installs it)
cat >"$WORK/probe.c" <<'EOF'
#include <stdio.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include "helper_seccomp.h"
int main(void)
{
	int r = helper_seccomp_install();
	pid_t f;
	int s;

	if (r)
		return 2;
	f = fork();
	if (f == 0)
		_exit(0);
	s = socket(AF_INET, SOCK_STREAM, 0);
	printf("fork %d %d socket %d %d setsid %d exec %d\n", f, f < 0 ? errno : 0, s, s < 0 ? errno : 0,
	       setsid() < 0 ? errno : 0, execl("/bin/true", "true", (char *)0) < 0 ? errno : 0);
	return 0;
}
EOF
cc -O1 -I"$TOP/resolver" -o "$WORK/probe" "$WORK/probe.c" || die "cannot build the seccomp probe"
res=$("$WORK/probe")
[ "$res" = "fork -1 1 socket -1 1 setsid 1 exec 1" ] || die "seccomp filter lets through: $res"
info "seccomp: fork, socket, setsid, exec all fail with EPERM"

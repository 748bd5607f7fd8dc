#!/bin/bash
# smoke.sh - prove the guest infrastructure end to end, WITHOUT cpuport:
#   1. build a small C workload (memcpy/strlen/memset in a loop, one line per ~100 ms),
#   2. run it on this host as init of its own pid namespace and `criu dump` it,
#   3. boot one QEMU guest per CPU model with the images and restore with criu alone
#      (`criu restore -d --cpu-cap=none`), under a subreaper that reports how the process ends,
#   4. print a table CPU model -> outcome.
# The Nehalem guest (no AVX) MUST show SIGILL: glibc bound AVX2/AVX-512 string functions on the
# host. Otherwise the test fails (exit 1): that is the proof that the cross-CPU tests can fail.
#
# Usage: smoke.sh [--cpus "Nehalem Haswell-v4"] [--no-pidns] [--keep] [--timeout SEC] [-v]
#   --cpus LIST    guest CPU models (default "Nehalem Haswell-v4"; Nehalem is required to SIGILL
#                  whenever it is in the list)
#   --no-pidns     run the workload in the host's pid namespace (default: as pid 1 of its own,
#                  so its pid is free in any guest; without it the host pid must be free there)
#   --keep         keep the temp dir (workload, images, initramfs, console logs, guest results)
#   --timeout SEC  per guest (default 300)
#   -v             show the guest consoles while they run
# Exit: 0 pass, 1 fail, 2 usage. Needs root, gcc, criu, qemu (see README.md).
set -eEuo pipefail

ME=smoke.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "$ME: error: $*" >&2; exit 1; }
trap 'echo "$ME: error: unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
usage() { echo "$ME: $*" >&2; sed -n '10,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cpus="Nehalem Haswell-v4" pidns=1 keep=0 timeout=300 verbose=()
while (($#)); do
    case "$1" in
        --cpus) (($# >= 2)) || usage "--cpus needs an argument"; cpus=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --no-pidns) pidns=0; shift ;;
        --timeout) (($# >= 2)) || usage "--timeout needs an argument"; timeout=$2; shift 2 ;;
        -v) verbose=(-v); shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage "unknown argument '$1'" ;;
    esac
done
[[ $EUID -eq 0 ]] || die "must run as root (criu dump/restore)"
CRIU="${CPUPORT_CRIU:-/usr/local/sbin/criu}"
CC=${CC:-cc}
[[ -x "$CRIU" ]] || die "criu not found at $CRIU"
command -v "$CC" >/dev/null || die "C compiler '$CC' not found"
command -v unshare >/dev/null || die "unshare not found (util-linux)"

T=$(mktemp -d /tmp/cpuport-smoke.XXXXXX)
P=$T/p          # everything under $P goes into the guest at the same path
H=$T/host       # host-only files (initramfs, logs, results)
mkdir -p "$P/work" "$P/img" "$P/bin" "$H"
upid=
cleanup() {
    [[ -n "$upid" ]] && kill -9 "$upid" 2>/dev/null
    if ((keep)); then echo "$ME: kept $T" >&2; else rm -rf "$T"; fi
    return 0
}
trap cleanup EXIT

# ---- 1. workload + guest helpers ----
"$CC" -O1 -Wall -fno-builtin -fno-tree-loop-distribute-patterns -o "$P/work/workload" "$HERE/smoke/workload.c" ||
    die "cannot compile the workload"
"$CC" -O2 -Wall -o "$P/bin/cpuport-reap" "$HERE/smoke/reap.c" || die "cannot compile cpuport-reap"
cp "$HERE/smoke/guest.sh" "$P/guest.sh"
cat > "$P/smoke.env" <<EOF
WORK=$P/work
IMG=$P/img
OUT=$P/work/out.txt
REAP=$P/bin/cpuport-reap
EOF

# ---- 2. run and dump on the host ----
cd "$P/work"
# Own session (workload calls setsid()), stdio on /dev/null, pid 1 of a new pid namespace so the
# restored pid is free in any guest. No mount namespace: the tree shares criu's mounts.
if ((pidns)); then
    setsid unshare --pid --fork "$P/work/workload" "$P/work/out.txt" </dev/null >/dev/null 2>&1 &
    upid=$!
else
    "$P/work/workload" "$P/work/out.txt" </dev/null >/dev/null 2>&1 &   # it calls setsid() itself
    upid=$!
fi
wpid=
for _ in $(seq 100); do
    if ((pidns)); then
        wpid=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null | awk '{print $1}') || true
    else
        wpid=$upid
    fi
    [[ -n "$wpid" && -s "$P/work/out.txt" ]] && [[ $(wc -l < "$P/work/out.txt") -ge 5 ]] && break
    sleep 0.1
done
[[ -n "$wpid" ]] || die "workload did not start"
grep -q ' ok$' "$P/work/out.txt" || die "workload output looks wrong: $(head -n 3 "$P/work/out.txt")"
"$CRIU" dump -t "$wpid" -D "$P/img" -o "$H/dump.log" -v4 ||
    { tail -n 20 "$H/dump.log" >&2; die "criu dump failed (log: $H/dump.log)"; }
wait "$upid" 2>/dev/null || true
upid=
cd /
echo "$ME: dumped workload (pid $wpid, $(wc -l < "$P/work/out.txt") lines written), images $(du -sh "$P/img" | cut -f1)" >&2

# What the host's glibc is likely to have bound, to derive the expected outcome per guest.
hostflags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
host_has() { [[ "$hostflags" == *" $1 "* ]]; }

# symbolize "traps: ... trap invalid opcode ip:X ... in libc.so.6[START+SIZE]": name the function
# and instruction at the faulting ip, using gdb and libc6-dbg if they are installed (optional).
symbolize() {
    local line=$1 ip start obj path off vaddr
    command -v gdb >/dev/null && command -v readelf >/dev/null || return 0
    local re='ip:([0-9a-f]+) .* in ([^[]+)\[([0-9a-f]+)\+'
    [[ "$line" =~ $re ]] || return 0
    ip=0x${BASH_REMATCH[1]} obj=${BASH_REMATCH[2]} start=0x${BASH_REMATCH[3]}
    path=$(ldd "$P/work/workload" 2>/dev/null | awk -v o="$obj" '$1 == o { print $3 }')
    [[ -n "$path" ]] || return 0
    # The kernel prints the start of the executable mapping: add that segment's vaddr.
    vaddr=$(readelf -lW "$path" | awk '$1 == "LOAD" && $(NF-1) ~ /E/ && v == "" { v = $3 } END { if (v != "") print v }')
    [[ -n "$vaddr" ]] || return 0
    off=$(printf '0x%x' $((ip - start + (vaddr & ~0xfff))))
    gdb -batch -ex "x/i $off" "$path" 2>/dev/null | tail -n1 | sed 's/^ *//;s/^=> *//;s/\t/ /g' || true
}

# ---- 3. one initramfs, one guest per CPU model ----
t0=$(date +%s.%N)
"$HERE/mkinitramfs.sh" "$H/initrd.cpio" --payload "$P" --script "$P/guest.sh" >/dev/null ||
    die "mkinitramfs.sh failed"
t1=$(date +%s.%N)
echo "$ME: initramfs $(du -h "$H/initrd.cpio" | cut -f1) built in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s" >&2

fail=0
rows=()
for cpu in $cpus; do
    log=$H/console-$cpu.log
    g0=$(date +%s.%N)
    grc=0
    "$HERE/run-guest.sh" --cpu "$cpu" --initrd "$H/initrd.cpio" --log "$log" \
        --out-dir "$H/result-$cpu" --timeout "$timeout" "${verbose[@]}" || grc=$?
    g1=$(date +%s.%N)
    wall=$(awk -v a="$g0" -v b="$g1" 'BEGIN{printf "%.1fs", b-a}')
    clean=$(tr -d '\r' < "$log")
    outcome=$(sed -n 's/^.*SMOKE-RESULT \([^ ]*\).*/\1/p' <<<"$clean" | tail -n1)
    detail=$(sed -n 's/^.*SMOKE-RESULT [^ ]* //p' <<<"$clean" | tail -n1)
    gflags=$(sed -n 's/^.*SMOKE-CPU .*| //p' <<<"$clean" | tail -n1)
    rms=$(sed -n 's/^.*SMOKE-TIME restore_ms=//p' <<<"$clean" | tail -n1)
    trap_line=$(awk '!t && sub(/^.*SMOKE-DMESG /, "") { t = $0 } END { print t }' <<<"$clean")
    [[ -n "$outcome" ]] || outcome="GUEST-FAILED(rc=$grc)"
    # Expected: SIGILL if the guest lacks AVX2 (or AVX-512 while the host has it), else running.
    expected=RUNNING-OK
    if host_has avx2 && [[ "$gflags" != *avx2=yes* ]]; then expected=SIGILL; fi
    if host_has avx512f && [[ "$gflags" != *avx512f=yes* ]]; then expected=SIGILL; fi
    [[ -n "$gflags" ]] || expected="?"
    note=
    if [[ "$cpu" == Nehalem && "$outcome" != SIGILL ]]; then
        note="FAIL: Nehalem must SIGILL"; fail=1
    elif [[ "$outcome" == GUEST-FAILED* || "$outcome" == RESTORE-FAILED || "$outcome" == RUNNING-BAD || "$outcome" == ERROR ]]; then
        note="FAIL"; fail=1
    elif [[ "$outcome" != "$expected" ]]; then
        note="WARNING: expected $expected"
    fi
    rows+=("$(printf '%-14s %-44s %-12s %-11s %8s %7s  %s' "$cpu" "${gflags:-?}" "$outcome" "$expected" "${rms:-?}ms" "$wall" "$note")")
    [[ -n "$trap_line" ]] && rows+=("$(printf '%14s kernel: %s' '' "$trap_line")")
    sym=$(symbolize "$trap_line")
    [[ -n "$sym" ]] && rows+=("$(printf '%14s faulting instruction: %s' '' "$sym")")
    rows+=("$(printf '%14s %s' '' "$detail")")
done

echo
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')  avx2=$(host_has avx2 && echo yes || echo no) avx512f=$(host_has avx512f && echo yes || echo no)"
printf '%-14s %-44s %-12s %-11s %8s %7s  %s\n' "guest -cpu" "guest features" "outcome" "expected" "restore" "wall" ""
printf '%s\n' "${rows[@]}"
echo
if ((fail)); then
    echo "$ME: FAIL (logs: keep them with --keep)" >&2
    exit 1
fi
echo "$ME: PASS" >&2

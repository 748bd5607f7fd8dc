#!/bin/bash
# tests/e2e/run.sh - the heterogeneous migration matrix (`make e2e`; see README.md).
#
# Usage: tests/e2e/run.sh [--quick] [--keep] [--timeout SEC] [-v]
#   --quick        CI subset: host -> Nehalem and Nehalem -> host, for the C fixture (and spin)
#                  (PIE, 2 threads), python3 and sqlite3 (see README.md)
#   --keep         keep the work dir (/tmp/cpuport-e2e.*: payload, images, initramfs,
#                  console logs, every cell's evidence)
#   --timeout SEC  per guest (default 900)
#   -v             stream the guest consoles to stderr
#   --directions "D..."  only these (host-nehalem host-haswell nehalem-host nehalem-haswell)
#   --workloads "W..."   only these (c-pie-t2 c-nopie c-now c-spin c-selfdisp python sqlite java
#                        python-openssl python-ssl)
#
# Checkpoints real processes (the C fixture, Debian's python3, sqlite3 and HotSpot) on one CPU and
# restores them on another, with criu alone and with criu + cpuport, in QEMU TCG guests
# (-cpu Nehalem, -cpu Haswell-v4) and on this host. Prints the matrix and exits 1 if any
# cell differs from its expectation (derived at run time from the CPUs' flags and, for
# bindings, from a process freshly started on the destination), 77 if it cannot run here
# (not root, no QEMU/kernel/busybox-static), 2 on usage errors.
set -euo pipefail

ME=e2e
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
GUEST=$TOP/tests/guest
usage() { echo "$ME: $*" >&2; sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "$ME: error: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
say() { echo "$ME: $*" >&2; }

quick=0 keep=0 timeout=900 verbose=() only_dirs= only_wls=
while (($#)); do
    case "$1" in
        --quick) quick=1; shift ;;
        --keep) keep=1; shift ;;
        --timeout) (($# >= 2)) || usage "--timeout needs an argument"; timeout=$2; shift 2 ;;
        -v) verbose=(-v); shift ;;
        --directions) (($# >= 2)) || usage "--directions needs an argument"; only_dirs=$2; shift 2 ;;
        --workloads) (($# >= 2)) || usage "--workloads needs an argument"; only_wls=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage "unknown argument '$1'" ;;
    esac
done

# ---------------------------------------------------------------- prerequisites
[[ $EUID -eq 0 ]] || skip "needs root (criu dump/restore, initramfs with device nodes)"
CRIU=${CPUPORT_CRIU:-/usr/local/sbin/criu}
PY=/usr/bin/python3            # Debian's, not whatever python3 is first in PATH
SQLITE=$(command -v sqlite3 || true)
# Debian's HotSpot (openjdk-17-jre-headless), not whatever `java` is first in PATH
JAVA=${CPUPORT_E2E_JAVA:-/usr/lib/jvm/java-17-openjdk-amd64/bin/java}
# small and quick to checkpoint: no perf-data file, one small heap, serial GC, C2 only (one
# compiler thread; the loops are compiled within ~0.2 s), one code heap that starts at 640 KB
# (the census reads every executable byte of it, slowly in an emulated CPU), and a crash
# handler that ends in exit(1), not a core dump
# -XX:-UseContainerSupport: HotSpot re-reads its cgroup's memory limit from time to time, and a dump
# that catches /sys/fs/cgroup/.../memory.limit_in_bytes open cannot be restored where that path
# does not exist (a guest): seen once in CI as RESTORE-FAILED in both java cells
JAVA_OPTS="-XX:-UseContainerSupport -XX:-UsePerfData -Xms8m -Xmx64m -XX:+UseSerialGC -XX:-TieredCompilation -XX:CICompilerCount=1 -XX:InitialCodeCacheSize=640k -XX:ReservedCodeCacheSize=32m -XX:-CreateCoredumpOnCrash"
[[ -x "$CRIU" ]] || skip "criu not found at $CRIU (scripts/setup.sh)"
command -v "${CPUPORT_QEMU:-qemu-system-x86_64}" >/dev/null || skip "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
[[ -x /bin/busybox ]] && ! LC_ALL=C ldd /bin/busybox >/dev/null 2>&1 || skip "busybox-static not installed"
[[ -x "$PY" ]] || die "$PY not found: apt-get install python3"
for f in build/plugin/cpuport_plugin.so build/bin/cpuport build/bin/cpuport-select; do
    [[ -x "$TOP/$f" ]] || die "$TOP/$f not built: run 'make all fixtures' (or 'make e2e')"
done
"$GUEST/build-kernel.sh" >/dev/null || skip "no guest kernel (tests/guest/build-kernel.sh failed: apt-get update?)"

hostflags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
hostmodel=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
t_start=$(date +%s.%N)
secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- the matrix
# WL_SOURCES[wl]: where a workload is dumped, if not on every source (a cell elsewhere is not run)
declare -A WL_SOURCES=()
if ((quick)); then
    WLS=(c-pie-t2 c-spin c-selfdisp python sqlite python-ssl java)
    DIRECTIONS=(host-nehalem nehalem-host)
    # a JVM dumped inside an emulated CPU costs a minute or more: CI runs its host -> Nehalem cells
    WL_SOURCES=([java]=host)
else
    WLS=(c-pie-t2 c-nopie c-now c-spin c-selfdisp python sqlite python-openssl python-ssl java)
    DIRECTIONS=(host-nehalem host-haswell nehalem-host nehalem-haswell)
fi
[[ -z "$only_dirs" ]] || read -r -a DIRECTIONS <<<"$only_dirs"
[[ -z "$only_wls" ]] || read -r -a WLS <<<"$only_wls"
for d in "${DIRECTIONS[@]}"; do
    case "$d" in host-nehalem|host-haswell|nehalem-host|nehalem-haswell) ;; *) usage "unknown direction '$d'" ;; esac
done
for w in "${WLS[@]}"; do
    case "$w" in c-pie-t2|c-nopie|c-now|c-spin|c-selfdisp|python|python-openssl|python-ssl|sqlite|java) ;;
        *) usage "unknown workload '$w'" ;; esac
done
if [[ " ${WLS[*]} " == *" python-ssl "* ]]; then
    command -v openssl >/dev/null || die "python-ssl needs the openssl command (a test certificate): apt-get install openssl"
fi
[[ " ${WLS[*]} " != *" sqlite "* || -n "$SQLITE" ]] || die "sqlite3 not found: apt-get install sqlite3"
[[ " ${WLS[*]} " != *" java "* || -x "$JAVA" ]] || die "$JAVA not found: apt-get install openjdk-17-jre-headless"
MODES=(alone cpuport)
# in_matrix DIRECTION WL: that row is part of this run
in_matrix() { [[ -z "${WL_SOURCES[$2]:-}" || " ${WL_SOURCES[$2]} " == *" ${D_SRC[$1]} "* ]]; }
# direction -> source dir tag, where it is restored (host or a QEMU -cpu model), label
declare -A D_SRC=([host-nehalem]=host [host-haswell]=host [nehalem-host]=nehalem [nehalem-haswell]=nehalem)
declare -A D_DST=([host-nehalem]=Nehalem [host-haswell]=Haswell-v4 [nehalem-host]=host [nehalem-haswell]=Haswell-v4)
declare -A D_LABEL=([host-nehalem]="host → Nehalem" [host-haswell]="host → Haswell-v4"
                    [nehalem-host]="Nehalem → host" [nehalem-haswell]="Nehalem → Haswell-v4")
# what each QEMU model must (not) show in the guest's /proc/cpuinfo: expectations come from
# the flags the guest reports, so a guest that is not the CPU it claims fails every cell
declare -A MODEL_HAS=([Nehalem]="sse4_2" [Haswell-v4]="avx2 xsave")
declare -A MODEL_LACKS=([Nehalem]="avx avx2 avx512f xsave rdrand" [Haswell-v4]="avx512f xsavec")
MIN_NEW=10          # a running cell must show at least this many new checked iterations
OBS_SECS=4          # how long a restored process is watched
SQL_QUERIES=30      # queries the sqlite3 client sends after the restore

T=$(mktemp -d /tmp/cpuport-e2e.XXXXXX)
P=$T/p              # everything under $P exists at the same path on the host and in guests
H=$T/host           # host-only: initramfs, console logs
mkdir -p "$P/e2e" "$P/cpuport/bin" "$P/cpuport/plugin" "$P/results" "$H"
cleanup() {
    local p
    # processes cells.sh started or restored on this host (it lists their pids in $P/pids);
    # only those still running from our work dir, in case a pid was reused
    for p in $(cat "$P/pids" 2>/dev/null); do
        [[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" == "$P"/* ]] && kill -9 "$p" 2>/dev/null
    done
    if ((keep)); then say "kept $T"; else rm -rf "$T"; fi
    return 0
}
trap cleanup EXIT

# ---------------------------------------------------------------- payload (built once)
say "work dir $T; host: $hostmodel"
cp "$TOP/build/plugin/cpuport_plugin.so" "$P/cpuport/plugin/"
cp "$TOP/build/bin/cpuport" "$TOP/build/bin/cpuport-select" "$P/cpuport/bin/"
${CC:-cc} -O2 -Wall -o "$P/cpuport/bin/e2e-reap" "$HERE/reap.c" || die "cannot build e2e-reap"
${CC:-cc} -O2 -Wall -o "$P/cpuport/bin/e2e-capmask" "$HERE/capmask.c" || die "cannot build e2e-capmask"
# Private fixture builds (same rules as `make fixtures`, RUNPATH under $P): a rebuild of
# build/fixtures while the matrix runs cannot change the files behind its checkpoints.
nice make -s -C "$TOP" FIX="$P/fix" "$P/fix/workload" "$P/fix/workload-nopie" "$P/fix/workload-now" \
    "$P/fix/selfdisp" >&2 ||
    die "cannot build the fixtures"
cp "$HERE/cells.sh" "$HERE/pywork.py" "$HERE/bindings.py" "$HERE/workloads/sqlite-setup.sql" "$P/e2e/"
# python-ssl's TLS server certificate: self-signed, made here, for this run only
if [[ " ${WLS[*]} " == *" python-ssl "* ]]; then
    mkdir -p "$P/e2e/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/e2e/tls/key.pem" -out "$P/e2e/tls/cert.pem" \
        -days 2 -subj /CN=localhost >/dev/null 2>&1 || die "openssl req (the python-ssl certificate) failed"
fi
if [[ " ${WLS[*]} " == *" java "* ]]; then
    # the JRE compiles the workload itself (jdk.compiler is part of openjdk-17-jre-headless)
    "$JAVA" "$HERE/JWork.java" --compile "$HERE/JWork.java" "$P/e2e/jcls" >&2 || die "cannot compile JWork.java with $JAVA"
fi
# sqlite3 client: P1..P3 before the checkpoint, Q4.. after; expected answers from a fresh sqlite3
gen_queries() {
    local p=$1 n
    for ((n = $2; n <= $3; n++)); do
        printf "INSERT INTO log VALUES(%d, printf('%%s-%%d', '%s', %d)); SELECT '%s%d', count(*), sum(length(k)), sum(instr(v, '%d')), max(k), min(upper(v)), total(length(replace(v, 'v', 'ww'))), (SELECT group_concat(k, ',') FROM (SELECT k FROM t WHERE k > 'key-%06d' ORDER BY k LIMIT 3)), (SELECT count(*) || ':' || group_concat(note, '') FROM log) FROM t WHERE i %% 17 = %d;\n" \
            "$n" "$p" "$n" "$p" "$n" $((n % 10)) $(((n * 997) % 100003)) $((n % 17))
    done
}
gen_queries P 1 3 > "$P/e2e/sqlite-pre.sql"
gen_queries Q 4 $((SQL_QUERIES + 3)) > "$P/e2e/sqlite-post.sql"
if [[ " ${WLS[*]} " == *" sqlite "* ]]; then
    cat "$P/e2e/sqlite-setup.sql" "$P/e2e/sqlite-pre.sql" "$P/e2e/sqlite-post.sql" | "$SQLITE" -batch 2>&1 |
        grep '^Q' > "$H/sqlite-expected.txt" || true
    [[ $(wc -l < "$H/sqlite-expected.txt") -eq $SQL_QUERIES ]] || die "sqlite3 reference run failed: $(head -c 300 "$H/sqlite-expected.txt")"
fi
cat > "$P/e2e/e2e.env" <<EOF
E2E_ROOT=$P
FIX=$P/fix
CPBIN=$P/cpuport/bin
PLUGDIR=$P/cpuport/plugin
REAP=$P/cpuport/bin/e2e-reap
PY=$PY
SQLITE=${SQLITE:-/usr/bin/sqlite3}
CRIU=$CRIU
OBS_SECS=$OBS_SECS
MIN_LINES=$((MIN_NEW * 2))
SQL_QUERIES=$SQL_QUERIES
JAVA=$JAVA
JAVA_OPTS="$JAVA_OPTS"
ALONE=\${ALONE:-none}
CAPMASK=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
EOF

# plans: one per guest boot (or host step); cells.sh runs them line by line
for d in "${DIRECTIONS[@]}"; do
    src=$P/src-${D_SRC[$d]}
    for wl in "${WLS[@]}"; do
        in_matrix "$d" "$wl" || continue
        # restores first: cells.sh then starts a fresh process only where a cell kept running
        for m in "${MODES[@]}"; do echo "restore $src $wl $m $P/results/$d/$wl-$m"; done
        echo "fresh $wl $P/results/$d/$wl-fresh"
    done > "$P/e2e/plan-$d"
done
for s in host nehalem; do
    for wl in "${WLS[@]}"; do
        [[ -z "${WL_SOURCES[$wl]:-}" || " ${WL_SOURCES[$wl]} " == *" $s "* ]] && echo "dump $P/src-$s $wl"
    done > "$P/e2e/plan-$s-src"
done

# ---------------------------------------------------------------- guests
# payload_args SRCDIR...: the common payload plus every file the processes dumped in SRCDIR map
common_payload=(--payload "$P/e2e" --payload "$P/cpuport" --payload "$P/fix" --payload "$PY")
[[ -n "$SQLITE" ]] && common_payload+=(--payload "$SQLITE")
# the part of the python3 stdlib the workload loads (for a python3 started in a guest; the
# whole /usr/lib/python3.11 works too but adds ~15 s to every initramfs)
while read -r f; do common_payload+=(--payload "$f"); done < <("$PY" -I -S "$HERE/pywork.py" --tls "$P/e2e/tls" --modules | sort -u)
# HotSpot: the files a JVM running the workload maps (the JRE's `modules` image alone is
# 123 MB), and the launcher's configuration; only for guests whose plan starts or restores one
java_payload=()
if [[ " ${WLS[*]} " == *" java "* ]]; then
    while read -r f; do java_payload+=(--payload "$f"); done < <(cd "$P" && "$JAVA" $JAVA_OPTS -cp "$P/e2e/jcls" JWork --maps | sort -u)
    java_payload+=(--payload "$(dirname "$(dirname "$JAVA")")/lib/jvm.cfg")
fi
for f in /usr/lib/locale/C.utf8 /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache; do
    if [[ -e "$f" ]]; then common_payload+=(--payload "$f"); fi
done
declare -A G_WALL=() G_RC=() G_LOG=() G_FLAGS=() G_CPU=() G_BAD=()
has() { [[ "$1" == *" $2 "* ]]; }
# boot_guest TAG CPU [SRCDIR]: initramfs with the payload (+ SRCDIR and the files its processes
# map), run plan-TAG in a CPU guest, extract the results into $P
boot_guest() {
    local tag=$1 cpu=$2 srcdir=${3:-} args=("${common_payload[@]}") f t0 rc=0
    if awk '($1 == "fresh" && $2 == "java") || ($1 != "fresh" && $3 == "java") { f = 1 } END { exit !f }' \
        "$P/e2e/plan-$tag"; then
        args+=("${java_payload[@]}")
    fi
    if [[ -n "$srcdir" ]]; then
        args+=(--payload "$srcdir")
        while read -r f; do [[ -e "$f" ]] && args+=(--payload "$f"); done < <(cat "$srcdir"/maps/* 2>/dev/null | sort -u)
    fi
    t0=$(date +%s.%N)
    nice "$GUEST/mkinitramfs.sh" "$H/initrd-$tag.cpio" "${args[@]}" --script "$P/e2e/cells.sh" >/dev/null ||
        die "mkinitramfs.sh failed for $tag"
    say "$tag: initramfs $(du -h "$H/initrd-$tag.cpio" | cut -f1) in $(secs_since "$t0")s; booting -cpu $cpu ..."
    t0=$(date +%s.%N)
    G_LOG[$tag]=$H/console-$tag.log
    G_CPU[$tag]=$cpu
    nice "$GUEST/run-guest.sh" --cpu "$cpu" --initrd "$H/initrd-$tag.cpio" --log "${G_LOG[$tag]}" \
        --out-dir "$P" --timeout "$timeout" --append "E2E_TAG=$tag" "${verbose[@]}" 2>"$H/run-guest-$tag.err" || rc=$?
    G_WALL[$tag]=$(secs_since "$t0")
    G_RC[$tag]=$rc
    G_FLAGS[$tag]=" $(tr -d '\r' < "${G_LOG[$tag]}" | sed -n 's/^.*E2E-CPU .*|//p' | tail -n1) "
    local fl bad=
    for fl in ${MODEL_HAS[$cpu]:-}; do has "${G_FLAGS[$tag]}" "$fl" || bad+=" no $fl"; done
    for fl in ${MODEL_LACKS[$cpu]:-}; do ! has "${G_FLAGS[$tag]}" "$fl" || bad+=" has $fl"; done
    [[ "${G_FLAGS[$tag]}" == *[a-z]* ]] || bad=" reported no CPU flags"
    G_BAD[$tag]=$bad
    [[ -z "$bad" ]] || say "$tag: ERROR: the guest is not a $cpu:$bad"
    say "$tag: guest -cpu $cpu exited $rc after ${G_WALL[$tag]}s ($(tr -d '\r' < "${G_LOG[$tag]}" | grep -ao 'E2E-PLAN-DONE.*' | tail -n1))"
    if ((rc != 0)); then cat "$H/run-guest-$tag.err" >&2; fi
    return 0
}
# run_host_plan TAG: the same cells.sh, on this host (criu alone = plugin loaded but disabled,
# since a host with cpuport installed would otherwise load it from /usr/lib/criu)
run_host_plan() {
    local tag=$1 t0 rc=0
    t0=$(date +%s.%N)
    mkdir -p "$P/results/$tag"
    ALONE=disable timeout --kill-after=10 "$timeout" nice sh "$P/e2e/cells.sh" plan "$P/e2e/plan-$tag" \
        > "$H/host-$tag.log" 2>&1 || rc=$?
    G_WALL[$tag]=$(secs_since "$t0")
    G_RC[$tag]=$rc
    G_LOG[$tag]=$H/host-$tag.log
    G_FLAGS[$tag]=$hostflags
    say "$tag: on the host, exit $rc after ${G_WALL[$tag]}s"
}

# 1. checkpoints on the host
run_host_plan host-src
((G_RC[host-src] == 0)) || { cat "$H/host-host-src.log" >&2; die "dumping on the host failed (log above)"; }
{ grep '^cells: dumped' "$H/host-host-src.log" || true; } | sed 's/^cells: /  /' >&2
# glibc's debug symbols (libc6-dbg, if installed) so that scans in the guests name variants
while read -r f; do common_payload+=(--payload "$f"); done < <("$PY" "$HERE/bindings.py" debugfiles "$P"/src-host/img/*/scan-at-dump.json)
for d in "${DIRECTIONS[@]}"; do
    case "$d" in
        host-nehalem) boot_guest host-nehalem Nehalem "$P/src-host" ;;
        host-haswell) boot_guest host-haswell Haswell-v4 "$P/src-host" ;;
        nehalem-host)
            [[ -n "${G_RC[nehalem-src]:-}" ]] || boot_guest nehalem-src Nehalem
            run_host_plan nehalem-host ;;
        nehalem-haswell)
            [[ -n "${G_RC[nehalem-src]:-}" ]] || boot_guest nehalem-src Nehalem
            boot_guest nehalem-haswell Haswell-v4 "$P/src-nehalem" ;;
    esac
done

# ---------------------------------------------------------------- judging the cells
# kernel "trap invalid opcode" line -> function and instruction (gdb + libc6-dbg, optional)
symbolize() {
    local line=$1 maps=$2 ip start obj path vaddr off re='ip:([0-9a-f]+) .* in ([^[]+)\[([0-9a-f]+)\+'
    command -v gdb >/dev/null && command -v readelf >/dev/null || return 0
    [[ "$line" =~ $re ]] || return 0
    ip=0x${BASH_REMATCH[1]} obj=${BASH_REMATCH[2]} start=0x${BASH_REMATCH[3]}
    path=$(grep -m1 "/$obj\$" "$maps" 2>/dev/null || true)
    [[ -n "$path" ]] || return 0
    vaddr=$(readelf -lW "$path" | awk '$1 == "LOAD" && $(NF-1) ~ /E/ && v == "" { v = $3 } END { if (v != "") print v }')
    [[ -n "$vaddr" ]] || return 0
    off=$(printf '0x%x' $((ip - start + (vaddr & ~0xfff))))
    gdb -batch -ex "x/i $off" "$path" 2>/dev/null | tail -n1 | sed 's/^ *//;s/^=> *//;s/\t/ /g' || true
}
# Judging prints its results; fields are separated by US (\x1f), read back with `IFS=$US read`.
US=$'\x1f'

# py_opts WL: pywork.py's options for a python workload
py_opts() {
    case "$1" in python-openssl) echo --hashlib ;; python-ssl) echo --tls "$P/e2e/tls" ;; esac
}

# verify_output RES SRCDIR WL KIND: prints "NEW<US>BAD": checked new iterations, and why not
# enough (empty if fine)
verify_output() {
    local res=$1 src=$2 wl=$3 kind=$4 f base before last first after n bad new=0 why= v
    case "$kind" in
        c)
            for f in "$src/work.orig/$wl"/out.txt "$src/work.orig/$wl"/out.txt.t[0-9]*; do
                [[ -f "$f" ]] || continue
                base=$(basename "$f")
                before=$(wc -l < "$f")
                last=$(tail -n1 "$f" | sed -n 's/^iter=\([0-9]*\) .*/\1/p')
                [[ -f "$res/work/$base" ]] || { why="no $base after restore"; break; }
                after=$(wc -l < "$res/work/$base")
                n=$((after - before))
                first=$(sed -n "$((before + 1))p" "$res/work/$base" | sed -n 's/^iter=\([0-9]*\) .*/\1/p')
                bad=$(tail -n "+$((before + 1))" "$res/work/$base" | grep -vc ' ok$' || true)
                if ((n < 1)); then why="$base: no new line"; break; fi
                if [[ "$first" != "$((last + 1))" ]]; then why="$base: iteration $last was followed by ${first:-?}"; break; fi
                if ((bad > 0)); then why="$base: $bad of $n new lines BAD"; break; fi
                new=$((new + n))
            done ;;
        py)
            before=$(wc -l < "$src/work.orig/$wl/out.txt")
            v=$("$PY" "$HERE/pywork.py" $(py_opts "$wl") --verify \
                "$res/work/out.txt" $((before + 1)) 2>&1 | tail -n 4 | tr '\n' ' ')
            new=$(sed -n 's/.*PYVERIFY lines=[0-9]* checked=\([0-9]*\) bad=0.*/\1/p' <<<"$v")
            if [[ -z "$new" ]]; then new=0; why="output differs from a recomputation: $v"; fi ;;
        java)
            before=$(wc -l < "$src/work.orig/$wl/out.txt")
            v=$("$JAVA" -cp "$P/e2e/jcls" JWork --verify "$res/work/out.txt" $((before + 1)) 2>&1 | tail -n 4 | tr '\n' ' ')
            new=$(sed -n 's/.*JVERIFY lines=[0-9]* checked=\([0-9]*\) bad=0.*/\1/p' <<<"$v")
            if [[ -z "$new" ]]; then new=0; why="output differs from a recomputation: $v"; fi ;;
        sql)
            before=$(wc -l < "$src/work.orig/$wl/out.txt")
            tail -n "+$((before + 1))" "$res/work/out.txt" > "$res/answers.txt"
            new=$(grep -c '^Q' "$res/answers.txt" || true)
            if ! cmp -s "$res/answers.txt" "$H/sqlite-expected.txt"; then
                why="answers differ from a fresh sqlite3 ($new of $SQL_QUERIES came): $(diff "$H/sqlite-expected.txt" "$res/answers.txt" | sed -n 2p | cut -c1-100)"
                new=0
            fi ;;
    esac
    [[ -n "$why" ]] && new=0
    ((new >= MIN_NEW)) || why=${why:-"only $new new iterations (need $MIN_NEW)"}
    printf '%s%s%s\n' "$new" "$US" "$why"
}

# downgrade DIRECTION: does the destination lack an ISA extension the source had (of those
# OpenSSL picks code by)? Then cpuport rewrites OpenSSL's capability vector; otherwise OpenSSL
# stays on the paths it chose on the source.
downgrade() {
    local d=$1 srcflags dstflags f
    case "${D_SRC[$d]}" in host) srcflags=$hostflags ;; *) srcflags=${G_FLAGS[nehalem-src]:-} ;; esac
    dstflags=${G_FLAGS[$d]:-}
    for f in ssse3 sse4_1 movbe aes pclmulqdq avx avx2 bmi1 bmi2 adx sha_ni avx512f avx512vl avx512ifma vaes vpclmulqdq; do
        if has "$srcflags" "$f" && ! has "$dstflags" "$f"; then return 0; fi
    done
    return 1
}

# The /proc/cpuinfo flags of the instruction-set extensions HotSpot 17's x86 code generators use
# when the CPU has them (VM_Version: UseAVX, UseBMI1/2Instructions, UseCountLeadingZeros, UseAES,
# UseCLMUL, UseSHA, UseFMA, the ADX multiply intrinsics, the clflushopt/clwb data-cache
# writeback stub) and the XSAVE its CPU-detection stub uses. A fact about HotSpot, for the
# expectation only; cpuport itself decides from the code it finds in the process.
HOTSPOT_FLAGS="avx avx2 avx512f avx512bw avx512dq avx512vl avx512cd bmi1 bmi2 abm adx aes pclmulqdq sha_ni fma clflushopt clwb xsave"
# lost_hotspot_feature SRCFLAGS DSTFLAGS: the source has one of them and the destination not
lost_hotspot_feature() {
    local fl
    for fl in $HOTSPOT_FLAGS; do
        if has "$1" "$fl" && ! has "$2" "$fl"; then return 0; fi
    done
    return 1
}

# expected_outcome DIRECTION WL MODE: prints what the cell must show ("A|B": either).
# Criu alone dies where the source's glibc/clones used AVX2 or AVX-512 the destination lacks;
# otherwise everything keeps running, and with cpuport bound exactly as a process started on
# the destination.
expected_outcome() {
    local d=$1 wl=$2 mode=$3 src=$P/src-${D_SRC[$1]} srcflags dstflags atdump
    local fresh=$P/results/$1/$2-fresh/fresh.json
    case "${D_SRC[$d]}" in host) srcflags=$hostflags ;; *) srcflags=${G_FLAGS[nehalem-src]:-} ;; esac
    dstflags=${G_FLAGS[$d]:-}
    atdump=$src/img/$wl/scan-at-dump.json
    if [[ -n "${G_BAD[$d]:-}" ]]; then
        echo "(destination guest is not a ${G_CPU[$d]}:${G_BAD[$d]})"
    elif [[ ${D_SRC[$d]} == nehalem && -n "${G_BAD[nehalem-src]:-}" ]]; then
        echo "(source guest is not a Nehalem:${G_BAD[nehalem-src]})"
    elif [[ "$dstflags" != *[a-z]* || "$srcflags" != *[a-z]* ]]; then
        echo "?"
    elif [[ $mode == alone ]] && { { has "$srcflags" avx2 && ! has "$dstflags" avx2; } ||
                                 { has "$srcflags" avx512f && ! has "$dstflags" avx512f; }; }; then
        echo SIGILL
    elif [[ $mode == cpuport && $wl == python-* ]] && has "$srcflags" aes && ! has "$dstflags" aes; then
        # libcrypto (OpenSSL 3.0) is re-selected through OPENSSL_ia32cap_P, but its composite
        # AES-CBC-HMAC-SHA ciphers take their AES-NI table without a capability test (the test
        # ran when the provider listed its algorithms, on the source CPU, and the method store
        # built then keeps them): the ISA census refuses libcrypto where AES-NI is missing
        echo REFUSED
    elif [[ $mode == cpuport && $wl == c-spin ]] && has "$srcflags" avx2 && ! has "$dstflags" avx2; then
        # a thread is stopped inside spin_kernel.avx2, which cannot run here: fail closed
        echo REFUSED
    elif [[ $mode == cpuport && $wl == c-selfdisp ]] && has "$srcflags" avx2 && ! has "$dstflags" avx2; then
        # libselfdisp.so chose its AVX2 function from its own CPUID flag: the ISA census refuses
        echo REFUSED
    elif [[ $mode == cpuport && $wl == java ]] && lost_hotspot_feature "$srcflags" "$dstflags"; then
        # HotSpot generated code (C2's compiled loops, its stubs) for the source CPU into
        # anonymous executable memory, which nothing re-selects: the ISA census refuses
        echo REFUSED
    elif [[ $mode == cpuport ]]; then
        echo RUNNING-OK+FRESH
    elif [[ -f "$atdump" && -f "$fresh" ]] && [[ $("$PY" "$HERE/bindings.py" cmp "$atdump" "$fresh") == same* ]]; then
        echo RUNNING-OK+FRESH
    else
        echo RUNNING-OK+STALE
    fi
}

# cell_timing RES: prints how long criu restore (and cpuport, and its helper) took
cell_timing() {
    local res=$1 line timing
    timing=$(sed -n 's/^cmd-exit [0-9]* \([0-9]*\)$/\1/p' "$res/reap-observed.log")ms
    line=$(grep -m1 -ao 'cpuport: pid [0-9]*: re-patched.*' "$res/restore.log" 2>/dev/null || true)
    [[ -n "$line" ]] && timing+=" (cpuport $(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' <<<"$line") ms, helper $(sed -n 's/.*helper \([0-9.]*\).*/\1/p' <<<"$line") ms)"
    echo "$timing"
}

# refused_outcome RES SRCDIR WL RC: a cell where cpuport killed the process; prints "OUT<US>INFO"
refused_outcome() {
    local res=$1 src=$2 wl=$3 rc=$4 out=REFUSED info f n0 n1
    info=$({ grep -a 'cpuport:' "$res/restore.log" || true; } | { grep -a 'Error' || true; } | sed -n 1,2p |
           sed 's/^.*cpuport: //' | tr '\n' ' ')
    # failing closed means not one more instruction of the program: no new output
    for f in "$src/work.orig/$wl"/out.txt*; do
        n0=$(wc -l < "$f") n1=$(cat "$res/work/$(basename "$f")" 2>/dev/null | wc -l)
        if ((n1 != n0)); then out=REFUSED-BUT-RAN info="$(basename "$f") went from $n0 to $n1 lines; $info"; fi
    done
    # killed: we saw the SIGKILL, or criu reaped it itself and reported the restore failed
    grep -q "^death .* signal 9 " "$res/reap-observed.log" || [[ -n "$rc" && "$rc" != 0 ]] ||
        { out=REFUSED-NOT-KILLED; info="no SIGKILL seen and criu reported success; $info"; }
    if grep -q 'did not finish' "$res/criu.out" 2>/dev/null; then
        out=REFUSED-CRIU-HUNG
        info="criu restore never returned after cpuport killed the process (killed after 60 s); $info"
    fi
    printf '%s%s%s\n' "$out" "$US" "$info"
}

# hotspot_sigill RES SRCDIR WL: HotSpot catches SIGILL itself (its handler writes hs_err_pid<N>.log
# into the working directory and exits 1, with -XX:-CreateCoredumpOnCrash): prints the report's
# problematic frame if a report written after the restore says the CPU raised SIGILL (a kernel
# si_code: ILL_ILLOPN for #UD; not one sent by kill); fails otherwise
hotspot_sigill() {
    local res=$1 src=$2 wl=$3 f
    for f in "$res"/work/hs_err*; do
        [[ -f "$f" && ! -e "$src/work.orig/$wl/$(basename "$f")" ]] || continue
        grep -q '^#  SIGILL (0x4) at pc=' "$f" && grep -Eq '^siginfo: si_signo: 4 \(SIGILL\), si_code: [1-8] \(ILL_' "$f" || continue
        echo "HotSpot's handler caught it: $(grep -m1 -o 'si_code: [^,]*' "$f"), $(grep -m1 -o 'SIGILL (0x4) at pc=[0-9a-fx]*' "$f"), frame $(grep -m1 -A1 '^# Problematic frame:' "$f" | tail -n1 | sed 's/^# *//') ($(basename "$f"))"
        return 0
    done
    return 1
}

# kernel_sigill RES PID: the guest kernel's trace shows a SIGILL it raised for an invalid opcode
# (a fault's si_code, ILL_ILLOPN for #UD: not one sent by kill) in a thread of process PID
# (cells.sh records signal:signal_generate with the thread group in each guest restore)
kernel_sigill() {
    local line
    [[ -s "$1/sigill-trace.txt" ]] || return 1
    line=$(grep -E "\( *$2\) .*signal_generate: sig=4 errno=[0-9-]+ code=[1-8] " "$1/sigill-trace.txt" | sed -n 1p)
    [[ -n "$line" ]] || return 1
    echo "$line" | sed 's/^ *//; s/  */ /g'
}

# death_outcome RES SRCDIR WL LINE: the restored process died (reaper LINE); prints "OUT<US>INFO"
death_outcome() {
    local res=$1 src=$2 wl=$3 line=$4 pid how sig out info sym hs
    read -r _ pid how sig _ <<<"$line"
    if [[ $how == signal && $sig == 4 ]]; then out=SIGILL; else out=$([[ $how == signal ]] && echo "SIGNAL-$sig" || echo "EXITED-$sig"); fi
    # a program that handles SIGILL itself (HotSpot) and then ends died of SIGILL just the same:
    # its crash report says so, or the kernel's trace of the signals it raised does
    if [[ $how == exit && $sig == 1 ]] && hs=$(hotspot_sigill "$res" "$src" "$wl"); then
        printf '%s%s%s\n' SIGILL "$US" "$hs"
        return
    fi
    if [[ $out != SIGILL ]] && hs=$(kernel_sigill "$res" "$pid"); then
        info="$out after its own SIGILL handler ran; kernel: $hs"
        [[ -s "$res/work/jvm.out" ]] && info+="; JVM: $(tail -n 2 "$res/work/jvm.out" | tr '\n' ' ')"
        printf '%s%s%s\n' SIGILL "$US" "$info"
        return
    fi
    if [[ -f "$res/dmesg.txt" ]]; then
        line=$(grep -a -m1 'invalid opcode' "$res/dmesg.txt" || true)
    else
        line=$(dmesg 2>/dev/null | grep -a "\[$pid\] trap invalid opcode" | tail -n1 || true)
    fi
    line=$(sed 's/^\[[ 0-9.]*\] //' <<<"$line")
    info="${line:-no kernel trap line}"
    sym=$(symbolize "$line" "$src/maps/$wl")
    [[ -n "$sym" ]] && info+=" => $sym"
    printf '%s%s%s\n' "$out" "$US" "$info"
}

# running_outcome D WL MODE RES SRCDIR KIND: the process kept running; prints "OUT<US>INFO<US>NEW"
running_outcome() {
    local d=$1 wl=$2 mode=$3 res=$4 src=$5 kind=$6 fresh=$P/results/$1/$2-fresh/fresh.json
    local new why out info c v
    IFS=$US read -r new why < <(verify_output "$res" "$src" "$wl" "$kind")
    if [[ -n "$why" ]]; then printf '%s%s%s%s%s\n' RUNNING-BAD "$US" "$why" "$US" "$new"; return; fi
    out=RUNNING-OK
    info="$new new iterations checked"
    [[ $kind == sql ]] && info="$new/$SQL_QUERIES answers equal a fresh sqlite3's"
    [[ $kind == py || $kind == java ]] && info="$new new lines equal a recomputation"
    if [[ $mode == cpuport ]] && ! grep -q 'cpuport: pid [0-9]*: re-patched' "$res/restore.log"; then
        out=RUNNING-NO-REPATCH info+="; but no 're-patched' line from cpuport in restore.log"
    elif [[ ! -s "$res/scan.json" || ! -s "$fresh" ]]; then
        out+="+?"; info+="; no scan ($({ head -c 200 "$res/scan.err" "$P/results/$d/$wl-fresh/fresh.err" 2>/dev/null || true; } | tr '\n' ' '))"
    else
        c=$("$PY" "$HERE/bindings.py" cmp "$res/scan.json" "$fresh")
        v=$("$PY" "$HERE/bindings.py" capvec "$res/scan.json" "$fresh" || true)
        if [[ $v == differ* ]] && ! downgrade "$d" &&
           [[ $("$PY" "$HERE/bindings.py" capvec "$res/scan.json" "$src/img/$wl/scan-at-dump.json" || true) == same* ]]; then
            # a CPU with every feature the source had: OpenSSL stays on the paths it chose there
            v="as at dump (stays on its source paths on this better CPU): ${v#differ }"
        fi
        if [[ $c == same* && $v != differ* ]]; then out+="+FRESH"; else out+="+STALE"; fi
        info+="; $("$PY" "$HERE/bindings.py" summary "$res/scan.json" | sed 's/ memmove=[^ ]*//; s/ memcmp=[^ ]*//'); vs fresh process: $c"
        [[ $v == none ]] || info+="; OpenSSL capability vector vs fresh process: $v"
    fi
    printf '%s%s%s%s%s\n' "$out" "$US" "$info" "$US" "$new"
}

# judge DIRECTION WL MODE: prints "OUT<US>EXP<US>INFO<US>TIMING<US>NEW" for one cell
judge() {
    local d=$1 wl=$2 mode=$3 res=$P/results/$1/$2-$3 src=$P/src-${D_SRC[$1]} kind exp rc line
    local out= info= timing= new=
    kind=$(case "$wl" in c-*) echo c ;; python*) echo py ;; java) echo java ;; *) echo sql ;; esac)
    exp=$(expected_outcome "$d" "$wl" "$mode")
    if [[ ! -f "$res/reap-observed.log" ]]; then
        out=NOT-RUN info="no evidence (guest/host step failed: see its log)"
    else
        rc=$(sed -n 's/^cmd-exit \([0-9]*\) \([0-9]*\)$/\1/p' "$res/reap-observed.log")
        timing=$(cell_timing "$res")
        line=$(grep -m1 '^death' "$res/reap-observed.log" || true)
        if grep -q 'killing the restored process' "$res/restore.log" 2>/dev/null; then
            IFS=$US read -r out info < <(refused_outcome "$res" "$src" "$wl" "$rc")
        elif [[ -z "$rc" ]]; then
            out=RESTORE-HUNG info="criu restore did not finish"
        elif ((rc != 0)); then
            out=RESTORE-FAILED
            info="criu exit $rc: $({ grep -a 'Error' "$res/restore.log" || true; } | tail -n 2 | sed 's/^([0-9. ]*) //' | tr '\n' ' ')"
        elif [[ -n "$line" ]]; then
            IFS=$US read -r out info < <(death_outcome "$res" "$src" "$wl" "$line")
        else
            IFS=$US read -r out info new < <(running_outcome "$d" "$wl" "$mode" "$res" "$src" "$kind")
        fi
    fi
    printf '%s\n' "$out$US$exp$US$info$US$timing$US$new"
}

fail=0 details=() failed_cells=()
declare -A SHORT=() WHY=()
for d in "${DIRECTIONS[@]}"; do
    for wl in "${WLS[@]}"; do
        in_matrix "$d" "$wl" || continue
        for m in "${MODES[@]}"; do
            IFS=$US read -r OUT EXP INFO TIMING NEW < <(judge "$d" "$wl" "$m")
            verdict=pass
            if [[ "|$EXP|" != *"|$OUT|"* ]]; then verdict=FAIL; fail=1; failed_cells+=("$d $wl $m"); fi
            short=$OUT
            [[ $OUT == RUNNING-OK* && -n "$NEW" ]] && short+=" ($NEW)"
            if [[ $verdict == FAIL ]]; then
                verdict="FAIL, expected $EXP"
                ((${#EXP} < 26)) || verdict="FAIL (see above)"
            fi
            SHORT[$d/$wl/$m]=$(printf '%-27s %s' "$short" "$verdict")
            WHY[$d/$wl/$m]="got $OUT, expected $EXP"
            details+=("$(printf '%-22s %-14s %-8s %-18s expected %-24s %-4s %s' "${D_LABEL[$d]}" "$wl" "$m" "$OUT" "$EXP" "$verdict" "${TIMING:-}")")
            details+=("$(printf '%8s%s' '' "$INFO")")
        done
    done
done

# ---------------------------------------------------------------- diagnostics for red cells
declare -A shown=()
for cell in "${failed_cells[@]}"; do
    read -r d wl m <<<"$cell"
    res=$P/results/$d/$wl-$m
    echo
    echo "======== FAILED: ${D_LABEL[$d]} $wl $m"
    for f in cmdline criu.out reap.log; do
        [[ -s "$res/$f" ]] && { echo "---- $f"; cat "$res/$f"; }
    done
    if [[ -s "$res/restore.log" ]]; then
        echo "---- restore.log: errors, warnings and cpuport lines"
        { grep -a -E 'Error|Warn|cpuport' "$res/restore.log" || true; } | { grep -av 'wrote ' || true; } | sed -n 1,40p
        echo "---- restore.log: last 15 lines"
        tail -n 15 "$res/restore.log"
    fi
    [[ -s "$res/dmesg.txt" ]] && { echo "---- guest dmesg"; tail -n 10 "$res/dmesg.txt"; }
    if [[ -s "${G_LOG[$d]:-/nonexistent}" && -z "${shown[$d]:-}" ]]; then
        shown[$d]=1
        echo "---- ${G_LOG[$d]}: last 40 lines"
        tr -d '\r' < "${G_LOG[$d]}" | tail -n 40
    fi
    src=nehalem-src
    if [[ ${D_SRC[$d]} == nehalem && ${G_RC[$src]:-0} != 0 && -s "${G_LOG[$src]:-}" && -z "${shown[$src]:-}" ]]; then
        shown[$src]=1
        echo "---- source guest ${G_LOG[$src]} (exit ${G_RC[$src]}): last 40 lines"
        tr -d '\r' < "${G_LOG[$src]}" | tail -n 40
    fi
done

# ---------------------------------------------------------------- the matrix
echo
echo "Cells: outcome, expectation, criu restore time (cpuport's own time), evidence"
printf '%s\n' "${details[@]}"
echo
echo "cpuport heterogeneous migration matrix$( ((quick)) && echo ' (--quick)')"
echo "host: $hostmodel: avx2=$(has "$hostflags" avx2 && echo yes || echo no) avx512f=$(has "$hostflags" avx512f && echo yes || echo no) xsavec=$(has "$hostflags" xsavec && echo yes || echo no)"
for tag in nehalem-src host-nehalem host-haswell nehalem-haswell; do
    [[ -n "${G_CPU[$tag]:-}" ]] || continue
    f=${G_FLAGS[$tag]}
    echo "guest $tag (-cpu ${G_CPU[$tag]}): avx2=$(has "$f" avx2 && echo yes || echo no) avx512f=$(has "$f" avx512f && echo yes || echo no) xsave=$(has "$f" xsave && echo yes || echo no) xsavec=$(has "$f" xsavec && echo yes || echo no); guest exit ${G_RC[$tag]}, ${G_WALL[$tag]}s"
done
echo "RUNNING-OK (N): kept running, N new iterations/answers checked; +FRESH: bound exactly like a"
echo "process started on the destination CPU; +STALE: still bound as on the source CPU"
printf '%-22s %-14s  %-36s  %s\n' "source → destination" workload "criu alone" "criu + cpuport"
for d in "${DIRECTIONS[@]}"; do
    for wl in "${WLS[@]}"; do
        in_matrix "$d" "$wl" || continue
        printf '%-22s %-14s  %-36s  %s\n' "${D_LABEL[$d]}" "$wl" "${SHORT[$d/$wl/alone]}" "${SHORT[$d/$wl/cpuport]}"
    done
done
echo
echo "total $(secs_since "$t_start")s"
if ((fail)); then
    # a short version of the diagnostics printed above, for logs that only keep the tail
    for cell in "${failed_cells[@]}"; do
        read -r d wl m <<<"$cell"
        res=$P/results/$d/$wl-$m
        echo "FAILED ${D_LABEL[$d]} $wl $m: ${WHY[$d/$wl/$m]}"
        { grep -a -E 'Error|cpuport: pid [0-9]+: re-patched' "$res/restore.log" 2>/dev/null || true; } |
            { grep -av 'RLIMIT_NOFILE' || true; } | sed -n 1,4p | cut -c1-300 | sed 's/^/    restore.log: /'
        if [[ -s "$res/reap-observed.log" ]]; then echo "    reaper: $(tr '\n' ' ' < "$res/reap-observed.log")"; fi
    done
    echo "$ME: FAIL: ${#failed_cells[@]} cell(s) differ from their expectation (diagnostics above; $( ((keep)) && echo "evidence in $T" || echo "rerun with --keep to keep the evidence"))" >&2
    exit 1
fi
echo "$ME: PASS" >&2

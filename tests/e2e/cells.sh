#!/bin/sh
# cells.sh - the part of the cross-CPU matrix that runs where the processes run: on the host
# and, unchanged, inside the QEMU guests (busybox sh). POSIX sh only.
#
#   cells.sh dump SRC WL            start workload WL as pid 1 of its own pid namespace in
#                                   SRC/work/WL, let it work, `criu dump` it with the cpuport
#                                   plugin into SRC/img/WL; keep a pristine copy of its work dir
#                                   in SRC/work.orig/WL
#   cells.sh restore SRC WL MODE RES
#                                   restore SRC/img/WL (MODE alone: criu without cpuport;
#                                   cpuport: criu --libdir with the plugin) under e2e-reap,
#                                   drive/observe it, scan it, kill it; evidence into RES/
#   cells.sh fresh WL RES           start WL normally and record `cpuport scan --json` of it:
#                                   what a process started on this CPU binds (RES/fresh.json)
#   cells.sh plan FILE              run each line of FILE ("dump SRC WL", "restore ...", ...)
#   cells.sh guest                  guest entry point (also taken with no argument when E2E_TAG
#                                   is set): run $E2E_DIR/plan-$E2E_TAG, then write
#                                   $E2E_ROOT/results/$E2E_TAG (and SRC dirs it dumped) as a
#                                   tar stream to /dev/vda
#
# Settings come from e2e.env next to this script (written by run.sh). Exit 0 when every step
# ran (outcomes are judged on the host by run.sh), non-zero when a step could not run.
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
. "$E2E_DIR/e2e.env"   # E2E_ROOT FIX CPBIN PLUGDIR REAP PY SQLITE JAVA JAVA_OPTS CRIU OBS_SECS MIN_LINES SQL_QUERIES ALONE CAPMASK
export CPUPORT_HELPER="$CPBIN/cpuport-select"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

log() { echo "cells: $*"; }
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
nlines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
# centiseconds since boot, without a fork (slow guests spend most of a poll loop forking)
now_cs() { read -r _up _ < /proc/uptime; _up=${_up%.*}${_up#*.}; echo "${_up#0}"; }
# wait_until TENTHS CMD...: poll CMD every 0.1 s until it succeeds or TENTHS tenths of a
# second (wall clock) have passed
wait_until() {
    _end=$(($(now_cs) + $1 * 10)); shift
    while :; do
        "$@" && return 0
        [ "$(now_cs)" -lt "$_end" ] || return 1
        sleep 0.1
    done
}
has_lines() { [ "$(nlines "$1")" -ge "$2" ]; }
has_match() { grep -q "$2" "$1" 2>/dev/null; }

# The workloads. wl_cmd WL W: the command line (stdio is set up by the caller).
wl_kind() {
    case "$1" in
        c-*) echo c ;;
        python*) echo py ;;
        sqlite) echo sql ;;
        java) echo java ;;
        *) echo "unknown workload $1" >&2; return 1 ;;
    esac
}
wl_start() {   # wl_start WL W PIDNS(0|1): start it, print the pid of the workload process
    _wl=$1 _w=$2 _ns=$3
    case "$_wl" in
        c-pie-t2) set -- "$FIX/workload" "$_w/out.txt" threads 2 ;;
        c-nopie) set -- "$FIX/workload-nopie" "$_w/out.txt" ;;
        c-now) set -- "$FIX/workload-now" "$_w/out.txt" ;;
        c-spin) set -- "$FIX/workload" "$_w/out.txt" spin ;;
        c-selfdisp) set -- "$FIX/selfdisp" "$_w/out.txt" ;;
        python) set -- "$PY" -I -S "$E2E_DIR/pywork.py" "$_w/out.txt" ;;
        python-openssl) set -- "$PY" -I -S "$E2E_DIR/pywork.py" --hashlib "$_w/out.txt" ;;
        python-ssl) set -- "$PY" -I -S "$E2E_DIR/pywork.py" --tls "$E2E_DIR/tls" "$_w/out.txt" ;;
        sqlite) set -- "$SQLITE" -batch ;;
        # JWork.class was compiled by run.sh (with the JRE's own compiler) into e2e/jcls
        java) set -- "$JAVA" $JAVA_OPTS -cp "$E2E_DIR/jcls" JWork "$_w/out.txt" ;;
    esac
    mkdir -p "$_w"
    cd "$_w" || return 1
    # no capability the host's root lacks (a guest's root has them all), or CRIU cannot
    # restore on the host what it dumped in a guest
    [ -n "${CAPMASK:-}" ] && set -- "$CPBIN/e2e-capmask" "$CAPMASK" "$@"
    if [ "$_ns" = 1 ]; then
        # pid 1 of a new pid namespace (its pid is free anywhere), in a session of its own
        set -- setsid unshare -p -f setsid "$@"
    fi
    if [ "$_wl" = sqlite ]; then
        rm -f "$_w/in"
        mkfifo "$_w/in"
        # read-write on the FIFO: the server never sees EOF between clients
        "$@" <>"$_w/in" >>"$_w/out.txt" 2>&1 &
    elif [ "$_wl" = java ]; then
        # the JVM's own messages (its crash handler's summary); open at dump, restored at its size
        "$@" </dev/null >>"$_w/jvm.out" 2>&1 &
    else
        "$@" </dev/null >/dev/null 2>&1 &
    fi
    _top=$!
    cd / || return 1
    _pid=$_top
    if [ "$_ns" = 1 ]; then
        _pid=
        wait_until 100 eval '_pid=$(cat /proc/$_top/task/$_top/children 2>/dev/null | cut -d" " -f1); [ -n "$_pid" ]' ||
            { echo "workload $_wl did not start" >&2; return 1; }
    fi
    echo "$_pid" >> "$E2E_ROOT/pids"
    # let it work (and bind its lazy slots) before anything looks at it
    case "$_wl" in
        sqlite)
            { cat "$E2E_DIR/sqlite-setup.sql" "$E2E_DIR/sqlite-pre.sql"; } > "$_w/in"
            wait_until 600 has_match "$_w/out.txt" '^P3|' ||
                { echo "sqlite did not answer the set-up queries: $(head -c 300 "$_w/out.txt")" >&2; return 1; } ;;
        c-*) wait_until 600 has_lines "$_w/out.txt" 5 || { echo "$_wl wrote no output" >&2; return 1; } ;;
        *) wait_until 900 has_lines "$_w/out.txt" 5 || { echo "$_wl wrote no output" >&2; return 1; } ;;
    esac
    echo "$_pid"
}

# In a guest, the kernel's own record of every SIGILL it raises (signal:signal_generate, with
# the thread group): a program that handles SIGILL itself, as HotSpot does, gets no "trap
# invalid opcode" line, and its handler may die before it can say why.
TRACE=/sys/kernel/tracing
sigtrace_on() {
    [ -n "${E2E_GUEST:-}" ] || return 0
    [ -d "$TRACE/events/signal" ] || mount -t tracefs nodev "$TRACE" 2>/dev/null || return 0
    [ -d "$TRACE/events/signal/signal_generate" ] || return 0
    echo 0 > "$TRACE/tracing_on"
    echo > "$TRACE/trace"
    echo 1 > "$TRACE/options/record-tgid"
    echo 'sig == 4' > "$TRACE/events/signal/signal_generate/filter"
    echo 1 > "$TRACE/events/signal/signal_generate/enable"
    echo 1 > "$TRACE/tracing_on"
}
sigtrace_save() {   # FILE
    [ -n "${E2E_GUEST:-}" ] && [ -f "$TRACE/trace" ] || return 0
    grep -v '^#' "$TRACE/trace" > "$1"
    echo > "$TRACE/trace"
}

cmd_dump() {   # SRC WL
    src=$1 wl=$2
    w=$src/work/$wl img=$src/img/$wl
    rm -rf "$w" "$img" "$src/work.orig/$wl"
    mkdir -p "$img" "$src/work.orig" "$src/maps"
    pid=$(wl_start "$wl" "$w" 1) || return 1
    # every file it maps must be at the same path wherever it is restored
    awk '$6 ~ /^\// { print $6 }' "/proc/$pid/maps" | sort -u > "$src/maps/$wl"
    "$CPBIN/cpuport" scan --json "$pid" > "$img/scan-at-dump.json" 2>"$img/scan-at-dump.err" || true
    t0=$(now_ms)
    if ! (cd "$w" && "$CRIU" dump -t "$pid" -D "$img" -L "$PLUGDIR" -v4 -o "$img/dump.log"); then
        log "criu dump of $wl (pid $pid) failed; end of $img/dump.log:"
        tail -n 25 "$img/dump.log"
        kill -9 "$pid" 2>/dev/null
        return 1
    fi
    t1=$(now_ms)
    wait_until 100 eval '! [ -d /proc/$pid ]' || true
    cp -a "$w" "$src/work.orig/$wl"
    log "dumped $wl (pid $pid) in $((t1 - t0)) ms: $(grep -m1 -o 'cpuport: pid [0-9]*: recorded.*' "$img/dump.log")"
}

cmd_restore() {   # SRC WL MODE RES
    src=$1 wl=$2 mode=$3 res=$4
    kind=$(wl_kind "$wl") || return 1
    w=$src/work/$wl img=$src/img/$wl
    rm -rf "$res" "$w"
    mkdir -p "$res"
    cp -a "$src/work.orig/$wl" "$w"   # the files exactly as at dump time
    set -- "$CRIU" restore -D "$img" -d -v4 -o "$res/restore.log" --pidfile "$res/pid"
    # criu refuses the FPU state of an XSAVE CPU on one without XSAVE unless told not to care
    grep -qw xsave /proc/cpuinfo || set -- "$@" --cpu-cap=none
    if [ "$mode" = cpuport ]; then
        set -- "$@" --libdir "$PLUGDIR"
    elif [ "$ALONE" = disable ]; then
        # a host with cpuport installed in /usr/lib/criu: load it, but let it do nothing
        set -- env CPUPORT_DISABLE=1 "$@" --libdir "$PLUGDIR"
    fi
    echo "$*" > "$res/cmdline"
    before=$(nlines "$w/out.txt")
    sigtrace_on
    cd "$w" || return 1
    "$REAP" "$res/reap.log" "$@" > "$res/criu.out" 2>&1 &
    rpid=$!
    cd /
    if ! wait_until 600 has_match "$res/reap.log" '^cmd-exit'; then
        log "$wl: criu restore did not finish in 60 s: killing it"
        echo "cells: criu restore did not finish in 60 s, killed" >> "$res/criu.out"
        kill -9 $(cat "/proc/$rpid/task/$rpid/children" 2>/dev/null) 2>/dev/null
    fi
    rc=$(sed -n 's/^cmd-exit \([0-9]*\) .*/\1/p' "$res/reap.log")
    pid=$(cat "$res/pid" 2>/dev/null)
    [ -n "$pid" ] && echo "$pid" >> "$E2E_ROOT/pids"
    if [ "$rc" = 0 ] && [ -n "$pid" ]; then
        if [ "$kind" = sql ]; then
            cat "$E2E_DIR/sqlite-post.sql" > "$w/in" &
            feeder=$!
            want=$((before + SQL_QUERIES))
            wait_until $((OBS_SECS * 10 + 300)) eval 'has_lines "$w/out.txt" $want || has_match "$res/reap.log" "^death"' || true
            kill "$feeder" 2>/dev/null
        else
            wait_until $((OBS_SECS * 10)) has_match "$res/reap.log" '^death' ||
                # a slow (busy) machine: give it up to a minute for MIN_LINES new lines
                wait_until 600 eval 'has_lines "$w/out.txt" $((before + MIN_LINES)) || has_match "$res/reap.log" "^death"' ||
                true
        fi
        cp "$res/reap.log" "$res/reap-observed.log"
        if [ -d "/proc/$pid" ]; then
            "$CPBIN/cpuport" scan --json "$pid" > "$res/scan.json" 2>"$res/scan.err" || true
        fi
        kill -9 "$pid" 2>/dev/null
    else
        cp "$res/reap.log" "$res/reap-observed.log"
    fi
    if ! wait_until 300 has_match "$res/reap.log" '^end'; then
        log "$wl: processes still alive 30 s after the kill: $(cat "/proc/$rpid/task/$rpid/children" 2>/dev/null)"
        kill -9 $(cat "/proc/$rpid/task/$rpid/children" 2>/dev/null) "$rpid" 2>/dev/null
    fi
    wait "$rpid" 2>/dev/null
    mkdir -p "$res/work"
    # (and HotSpot's crash report, if its signal handler caught something)
    for f in "$w"/out.txt* "$w"/hs_err* "$w"/jvm.out; do [ -f "$f" ] && cp "$f" "$res/work/"; done
    echo "$before" > "$res/lines-before"
    if [ -n "${E2E_GUEST:-}" ]; then
        dmesg -c > "$res/dmesg.txt" 2>/dev/null
        sigtrace_save "$res/sigill-trace.txt"
    fi
    log "$wl $mode: $(tr '\n' ' ' < "$res/reap-observed.log")"
    if [ "$mode" = cpuport ]; then
        grep -E 'cpuport: pid [0-9]+: (re-patched|.*killing)' "$res/restore.log" | sed -n 's/^/cells:   /; 1,3p'
    fi
    return 0
}

cmd_fresh() {   # WL RES
    wl=$1 res=$2
    # needed only to judge a cell that kept running (its bindings against a fresh process'): not
    # when the plan restored WL here before and every such restore ended (refused, or died), as
    # a JVM's ~20-40 s start in an emulated CPU would be spent for nothing
    need= ran=
    for m in alone cpuport; do
        r=${res%-fresh}-$m/reap-observed.log
        [ -f "$r" ] || continue
        ran=1
        grep -q '^cmd-exit 0 ' "$r" && ! grep -q '^death' "$r" && need=1
    done
    if [ -n "$ran" ] && [ -z "$need" ]; then
        log "fresh $wl skipped: no restore of it kept running here"
        return 0
    fi
    mkdir -p "$res"
    w=$res/fresh-work
    rm -rf "$w"
    pid=$(wl_start "$wl" "$w" 0) || return 1
    "$CPBIN/cpuport" scan --json "$pid" > "$res/fresh.json" 2>"$res/fresh.err" || true
    kill -9 "$pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$w"
    log "fresh $wl scanned"
}

cmd_plan() {
    fails=0
    while read -r step a b c d; do
        case "$step" in
            ""|"#"*) continue ;;
            dump) cmd_dump "$a" "$b" ;;
            restore) cmd_restore "$a" "$b" "$c" "$d" ;;
            fresh) cmd_fresh "$a" "$b" ;;
            *) log "unknown plan step '$step'"; false ;;
        esac || { fails=$((fails + 1)); log "step failed: $step $a $b $c $d"; }
    done < "$1"
    return "$fails"
}

# /init runs the guest script without arguments; the kernel command line sets E2E_TAG
[ $# -eq 0 ] && [ -n "${E2E_TAG:-}" ] && set -- guest
case "${1:-}" in
    dump) shift; cmd_dump "$@" ;;
    restore) shift; cmd_restore "$@" ;;
    fresh) shift; cmd_fresh "$@" ;;
    plan) shift; cmd_plan "$@" ;;
    guest)
        export E2E_GUEST=1
        flags=$(grep -m1 '^flags' /proc/cpuinfo)
        echo "E2E-CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') |${flags#*:}"
        dmesg -c > /dev/null
        mkdir -p "$E2E_ROOT/results/$E2E_TAG"
        plan_t0=$(now_ms)
        cmd_plan "$E2E_DIR/plan-$E2E_TAG"
        rc=$?
        echo "E2E-PLAN-DONE rc=$rc ms=$(($(now_ms) - plan_t0))"
        # results, and the checkpoints this guest made (dump steps), go back to the host
        set -- "results/$E2E_TAG"
        for s in $(awk '$1 == "dump" { print $2 }' "$E2E_DIR/plan-$E2E_TAG" | sort -u); do
            set -- "$@" "${s#"$E2E_ROOT"/}"
        done
        tar cf /dev/vda -C "$E2E_ROOT" "$@" || { echo "E2E: cannot write results to /dev/vda"; rc=1; }
        exit "$rc" ;;
    *) echo "usage: cells.sh dump|restore|fresh|plan|guest ..." >&2; exit 2 ;;
esac

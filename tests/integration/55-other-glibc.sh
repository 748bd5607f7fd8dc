#!/bin/bash
# A process on another glibc than the host's: Debian trixie's glibc 2.41,
# unpacked into a directory by scripts/setup.sh and run through its own
# ld.so.  Dump with the plugin, restore as on x86-64-v2: re-selection runs on
# that process's own ld.so and libc (not the host's 2.36), every slot moves to
# a variant the target can run, and the process keeps computing correctly.
. "$(dirname "$0")/../lib.sh"
require_criu
ROOT=${CPUPORT_CACHE:-/var/cache/cpuport}/trixie-root
LIBDIR=$ROOT/usr/lib/x86_64-linux-gnu
[ -x "$LIBDIR/ld-linux-x86-64.so.2" ] || skip "trixie glibc not unpacked in $ROOT: run scripts/setup.sh"
grep -qw avx2 /proc/cpuinfo || skip "needs AVX2 on the host to see a downgrade"

out=$WORK/w.out
setsid "$LIBDIR/ld-linux-x86-64.so.2" --library-path "$LIBDIR:$FIX" "$FIX/workload" "$out" threads 1 \
	</dev/null >/dev/null 2>&1 &
PID=$!
disown
PIDS+=("$PID")
wait_lines "$out" 3
"$CPUPORT" scan --json "$PID" >"$WORK/before.json"
python3 - "$WORK/before.json" "$LIBDIR" <<'PY' || die "the scan did not see trixie's libc/ld.so"
import json, sys
d = json.load(open(sys.argv[1]))
paths = [o["path"] for o in d["objects"]]
libc = [p for p in paths if p.endswith("/libc.so.6")]
print("libc:", libc)
assert libc and all(p.startswith(sys.argv[2]) for p in libc)
PY
dump "$PID" "$WORK/img"
CPUPORT_TARGET=x86-64-v2 restore "$WORK/img" || die "restore failed"
grep -Eq 'cpuport: pid [0-9]+: re-patched [1-9][0-9]* slots' "$WORK/img/restore.log" || die "nothing re-patched"
grep -q 'glibc 2.41 has no known layout' "$WORK/img/dump.log" && die "glibc 2.41 layout unknown"
check_running "$out" "$PID"
check_running "$out.t1" "$PID"
# every bound variant must now need nothing the target lacks (capstone over the code)
"$CPUPORT" scan -o "$WORK/after.img" --json "$PID" >"$WORK/after.json"
"$CPUPORT" --target x86-64-v2 check "$WORK/after.img" >"$WORK/check.txt" 2>&1 ||
	{ cat "$WORK/check.txt"; die "cpuport check refuses the re-patched process"; }
if grep -q ' !  ' "$WORK/check.txt"; then
	grep ' !  ' "$WORK/check.txt"
	die "variants still bound need features x86-64-v2 lacks"
fi
info "check: $(tail -n1 "$WORK/check.txt")"
python3 - "$WORK/before.json" "$WORK/after.json" <<'PY' || die "slots did not change on trixie's libc"
import json, sys
b, a = (json.load(open(f)) for f in sys.argv[1:3])
key = lambda s: (b["objects"][s["object"]]["path"], s["offset"])
before = {key(s): s["value"] for s in b["slots"] if s["bound"]}
changed = sum(1 for s in a["slots"] if s["bound"] and before.get((a["objects"][s["object"]]["path"], s["offset"])) not in (None, s["value"]))
print("slots changed:", changed)
sys.exit(0 if changed > 10 else 1)
PY

#!/bin/bash
# The helper's answers kept on disk across restores (resolver/answer_store.c,
# issue 16): a second restore of one checkpoint does not run the helper (the
# plugin's summary says "stored answers"), and no entry can change an
# outcome: one for another CPU target is not used; a damaged one is ignored;
# a forged one (valid checksum, answers the resolvers' own code cannot
# return) is refused by the same checks as the helper's answers, removed and
# the helper asked; an entry the process's owner could write is never read.
# Each outcome is compared with a restore that ran the helper.
. "$(dirname "$0")/../lib.sh"
require_criu

export CPUPORT_CACHE_DIR=$WORK/cache
mkdir -m 755 "$CPUPORT_CACHE_DIR"
STORE=$CPUPORT_CACHE_DIR/answers

# restore_case LABEL IMG OUT: restore, check it runs on, record the bound variants; sets SUMMARY
restore_case() {
	local label=$1 img=$2 out=$3
	rm -f "$img/restored.pid"
	restore "$img" || die "[$label] restore failed"
	SUMMARY=$(grep -m1 'cpuport: pid .* re-patched' "$img/restore.log") || die "[$label] no re-patch summary"
	check_running "$out" "$PID"
	"$CPUPORT" scan --json "$PID" >"$WORK/$label.json"
	python3 - "$WORK/$label.json" >"$WORK/$label.bound" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if isinstance(d, list): d = d[0]
for s in d["slots"]:
    print(d["objects"][s["object"]]["path"], s.get("offset"), s.get("target", {}).get("symbol", "-"))
PY
	cp "$img/restore.log" "$WORK/$label.log"
	kill -9 "$PID"
	wait_gone "$PID"
}
stored() { grep -q 'stored answers' <<<"$SUMMARY"; }
same_outcome() {	# LABEL REFERENCE
	cmp -s "$WORK/$1.bound" "$WORK/$2.bound" ||
		{ diff "$WORK/$2.bound" "$WORK/$1.bound" | head; die "[$1] bound otherwise than [$2] (helper run)"; }
}

out=$WORK/w.out img=$WORK/img
cp -p "$FIX/workload" "$WORK/"	# a copy, touched below
start_workload "$WORK/workload" "$out"
dump "$PID" "$img"

# the two restores on different CPUs when there are two: CPUID's APIC ids differ between them and
# must not be part of the key
all_cpus=$(taskset -pc $$ | sed 's/.*: //') ncpu=$(nproc)	# (nproc counts the CPUs we may run on)
if [ "$ncpu" -ge 2 ]; then taskset -pc 0 $$ >/dev/null; fi
info "first restore: the helper runs, its answers are stored"
restore_case first "$img" "$out"
stored && die "[first] answers from the store in an empty cache: $SUMMARY"
ls "$STORE"/* >/dev/null 2>&1 || die "no entry stored in $STORE"
n=$(ls "$STORE" | wc -l)

info "second restore of the same checkpoint (on another CPU): no helper"
if [ "$ncpu" -ge 2 ]; then taskset -pc 1 $$ >/dev/null; fi
restore_case second "$img" "$out"
taskset -pc "$all_cpus" $$ >/dev/null
stored || die "[second] the helper ran again: $SUMMARY"
grep -q 'selection answers from the store' "$WORK/second.log" || die "[second] no store line in the log"
same_outcome second first
info "second: $(sed 's/^.*cpuport: //' <<<"$SUMMARY")"

info "another CPU target: its own helper run and entry, then stored"
CPUPORT_TARGET=x86-64-v2 restore_case v2 "$img" "$out"
stored && die "[v2] used the host target's answers: $SUMMARY"
[ "$(ls "$STORE" | wc -l)" -gt "$n" ] || die "[v2] no entry of its own"
CPUPORT_TARGET=x86-64-v2 restore_case v2-again "$img" "$out"
stored || die "[v2-again] the helper ran again: $SUMMARY"
same_outcome v2-again v2
cmp -s "$WORK/v2.bound" "$WORK/first.bound" && info "(this host binds as x86-64-v2 does)"

info "the same checkpoint with its executable touched (same build-id, other file identity): not used"
touch -m "$WORK/workload"
restore_case stale "$img" "$out"
stored && die "[stale] an entry for the file before it changed was used: $SUMMARY"
same_outcome stale first

info "the same program with other helper input (its own GLIBC_TUNABLES): its own entry"
out2=$WORK/w2.out img2=$WORK/img2
GLIBC_TUNABLES=glibc.malloc.mxfast=0 start_workload "$WORK/workload" "$out2"
dump "$PID" "$img2"
restore_case other-context "$img2" "$out2"
stored && die "[other-context] answers of another helper input were used: $SUMMARY"
same_outcome other-context first

host_entry=$(grep -l "target host" "$STORE"/* | sed -n 1p)
v2_entry=$(grep -L "target host" "$STORE"/* | sed -n 1p)
[ -n "$host_entry" ] && [ -n "$v2_entry" ] || die "cannot tell the two entries apart"

info "the host entry under the x86-64-v2 entry's name (valid checksum, other key): not used"
cp "$v2_entry" "$WORK/v2.entry"
cp "$host_entry" "$v2_entry"
CPUPORT_TARGET=x86-64-v2 restore_case swapped "$img" "$out"
stored && die "[swapped] another target's entry was used: $SUMMARY"
same_outcome swapped v2

info "damaged entries (a flipped byte): ignored"
for e in "$STORE"/*; do
	printf '\xff' | dd of="$e" bs=1 seek=$(($(stat -c %s "$e") - 3)) conv=notrunc status=none
done
restore_case damaged "$img" "$out"
stored && die "[damaged] a damaged entry was used: $SUMMARY"
same_outcome damaged first

info "a forged entry (checksum recomputed, every call answer moved off the resolver's set): refused, redone"
restore_case refill "$img" "$out"	# the entry again, whole
python3 - "$STORE" <<'PY' || die "could not forge an entry"
import os, re, struct, sys
M = (1 << 64) - 1
def dsum(b):
    h = (0x9e3779b97f4a7c15 ^ len(b)) & M
    i = 0
    while i + 8 <= len(b):
        w, = struct.unpack_from("<Q", b, i)
        h = ((h ^ w) * 0xff51afd7ed558ccd) & M
        h ^= h >> 32
        i += 8
    for c in b[i:]:
        h = ((h ^ c) * 0x100000001b3) & M
    return h ^ (h >> 29)
HDR = 8 + 16 + 4 + 4 + 64 + 24 + 16 + 8 + 8
forged = 0
for name in os.listdir(sys.argv[1]):
    p = os.path.join(sys.argv[1], name)
    b = open(p, "rb").read()
    if b"target host" not in b:
        continue
    pay = b[HDR:]
    klen, = struct.unpack_from("<Q", pay, 0)
    key, tr = pay[8:8 + klen], pay[8 + klen:]
    # "res N OBJ OFF": an offset one byte into the variant, which no resolver returns
    tr2 = re.sub(rb"^res (\d+) (\d+) (\d+)$", lambda m: b"res %s %s %d" % (m[1], m[2], int(m[3]) + 1), tr, flags=re.M)
    if tr2 == tr:
        continue
    pay = pay[:8 + klen] + tr2
    hdr = bytearray(b[:HDR])
    struct.pack_into("<QQ", hdr, HDR - 16, len(pay), dsum(pay))
    open(p, "wb").write(bytes(hdr) + pay)
    forged += 1
sys.exit(0 if forged else 1)
PY
restore_case forged "$img" "$out"
grep -q 'stored selection answers did not hold' "$WORK/forged.log" ||
	{ grep cpuport: "$WORK/forged.log" | tail; die "[forged] the forged answers were not refused"; }
stored && die "[forged] the outcome came from the forged entry: $SUMMARY"
same_outcome forged first
restore_case after-forged "$img" "$out"
stored || die "[after-forged] the helper's own answers were not stored again: $SUMMARY"
same_outcome after-forged first

info "an entry the process's owner could write: never read"
chmod 775 "$STORE"
restore_case writable "$img" "$out"
stored && die "[writable] used an entry from a group-writable directory: $SUMMARY"
chmod 755 "$STORE"
chmod 777 "$WORK"
restore_case writable-parent "$img" "$out"
stored && die "[writable-parent] used the store below a world-writable directory: $SUMMARY"
chmod 700 "$WORK"
same_outcome writable first
info "every stored, damaged, forged, swapped and untrusted entry left the outcome as the helper's"

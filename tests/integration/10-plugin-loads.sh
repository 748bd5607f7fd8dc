#!/bin/bash
# criu really loads the plugin at dump and at restore (its lines are in criu's
# logs), the dump records cpuport in inventory.img, and a restore without the
# plugin (an empty plugin dir) is refused with "Missing required plugin".
. "$(dirname "$0")/../lib.sh"
require_criu

out=$WORK/w.out img=$WORK/img
start_workload "$FIX/workload" "$out"
dump "$PID" "$img"
grep -q 'Plugin "cpuport"' "$img/dump.log" || die "criu did not load the plugin at dump"
grep -Eq 'cpuport: pid [0-9]+: recorded [0-9]+ slots' "$img/dump.log" || die "no dump summary line"
ls "$img"/cpuport-*.img >/dev/null || die "no cpuport image written"
"$CRIU" show -f "$img/inventory.img" 2>/dev/null | grep cpuport >/dev/null ||
	strings "$img/inventory.img" | grep cpuport >/dev/null || die "cpuport not recorded in inventory.img"

mkdir -p "$WORK/empty"
cp -a "$img" "$WORK/img-noplugin"
if "$CRIU" restore -D "$WORK/img-noplugin" -L "$WORK/empty" -d -v4 -o restore.log; then
	die "restore without the plugin succeeded: stale variants would have been resumed"
fi
grep -q 'Missing required plugin' "$WORK/img-noplugin/restore.log" ||
	die "expected 'Missing required plugin' in restore.log"
info "restore without the plugin refused: $(grep -m1 'Missing required plugin' "$WORK/img-noplugin/restore.log")"

restore "$img" || die "restore with the plugin failed"
grep -q 'Plugin "cpuport"' "$img/restore.log" || die "criu did not load the plugin at restore"
grep -Eq 'cpuport: pid [0-9]+: re-patched' "$img/restore.log" || die "no restore summary line"
check_running "$out" "$PID"

#!/bin/bash
# A library constructor that prints cannot forge or break the helper's answers (issue 13,
# defect 2): the helper's stdout is /dev/null, answers go on their own pipe. The workload runs
# with a preloaded library whose constructor prints answer-like lines and garbage on stdout; the
# helper dlopen()s that library too. Restored as on x86-64-v2, the restore succeeds and the
# process is re-patched as without that library's prints.
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs AVX2 on the host to see a downgrade"

cat >"$WORK/chatty.c" <<'C'
#include <stdio.h>
/* a CPU-dispatched function: its slot is recorded, so the helper dlopen()s this library */
__attribute__((target_clones("avx2", "default"))) int chatty_fn(int x)
{
	return x + 1;
}

__attribute__((constructor)) static void chat(void)
{
	/* what a forged answer would look like, and a line no decoder accepts */
	printf("res 0 0 0\nptr 0 null\ntrampoline 0 0\nfrobnicate\ndone\n");
	fflush(stdout);
	if (chatty_fn(1) != 2)	/* binds the slot */
		puts("?");
}
C
cc -O1 -fPIC -shared -o "$WORK/libchatty.so" "$WORK/chatty.c" || die "cannot build the chatty library"
out=$WORK/w.out
# only the workload gets the preload (the test's own commands would print too)
printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' "$WORK/libchatty.so" "$FIX/workload" >"$WORK/run-chatty"
chmod +x "$WORK/run-chatty"
start_workload "$WORK/run-chatty" "$out"
grep -q libchatty "/proc/$PID/maps" || die "the preload did not load"
dump "$PID" "$WORK/img"
"$CPUPORT" show --json "$WORK/img" | grep chatty_fn >/dev/null || die "the chatty library's slot was not recorded"
CPUPORT_TARGET=x86-64-v2 restore "$WORK/img" || die "restore failed: the constructor's prints reached the answers"
grep -q 'cpuport: pid .* re-patched' "$WORK/img/restore.log" || die "not re-patched"
! grep -q 'malformed answer' "$WORK/img/restore.log" || die "the constructor's prints were read as answers"
check_running "$out" "$PID"
"$CPUPORT" scan --json "$PID" >"$WORK/scan.json"
now=$(json_slot_target "$WORK/scan.json" strlen libc.so.6)
case $now in *avx*|*evex*) die "strlen still bound to $now" ;; esac
info "restore with a printing constructor in the helper: strlen now $now"

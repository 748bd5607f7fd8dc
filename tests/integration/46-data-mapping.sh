#!/bin/bash
# Writes land in the object ld.so loaded, never in another mapping of the same file (issue 13,
# defect 5). A preloaded library maps libc.so.6 a second time, privately and writable, at offset 0
# (as unwinders and profilers read libraries); that mapping lies below the real libc, so "the first
# mapping of the path at offset 0" is it. Restored as on x86-64-v2, libc's own slots must be
# re-patched where libc is loaded (at its recorded load base), and the data copy left as it was.
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs AVX2 on the host to see a downgrade"

cat >"$WORK/mapper.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
/* a private, writable copy of libc.so.6's file, mapped at offset 0 before main() */
__attribute__((constructor)) static void map_libc(void)
{
	int fd = open("/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY);
	struct stat st;

	if (fd < 0 || fstat(fd, &st))
		return;
	mmap(NULL, (st.st_size + 4095) & ~4095L, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
}
C
cc -O1 -fPIC -shared -o "$WORK/libmapper.so" "$WORK/mapper.c" || die "cannot build the preload library"
out=$WORK/w.out
LD_PRELOAD=$WORK/libmapper.so start_workload "$FIX/workload" "$out"
libc=$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)
first=$(awk -v p="$libc" '$6 == p && $3 == "00000000" {print $1; exit}' "/proc/$PID/maps")
perms=$(awk -v p="$libc" '$6 == p && $3 == "00000000" {print $2; exit}' "/proc/$PID/maps")
[ "$perms" = rw-p ] || die "the first offset-0 mapping of libc is not the data copy ($first $perms)"
info "libc's first offset-0 mapping is the data copy at $first ($perms)"
start=${first%-*}
dd if="/proc/$PID/mem" bs=4096 skip=$((16#$start / 4096)) count=64 2>/dev/null | md5sum >"$WORK/copy.before"
dump "$PID" "$WORK/img"
CPUPORT_TARGET=x86-64-v2 restore "$WORK/img" || die "restore failed"
grep -q 'cpuport: pid .* re-patched' "$WORK/img/restore.log" || die "not re-patched"
check_running "$out" "$PID"
"$CPUPORT" scan --json "$PID" >"$WORK/scan.json"
for sym in strlen memmove; do
	now=$(json_slot_target "$WORK/scan.json" $sym libc.so.6)
	case $now in *avx*|*evex*) die "libc's own $sym still bound to $now: the writes went elsewhere" ;; esac
	info "libc's $sym now $now"
done
dd if="/proc/$PID/mem" bs=4096 skip=$((16#$start / 4096)) count=64 2>/dev/null | md5sum >"$WORK/copy.after"
cmp -s "$WORK/copy.before" "$WORK/copy.after" || die "the data copy of libc.so.6 was written"
info "the data copy of libc.so.6 is unchanged"

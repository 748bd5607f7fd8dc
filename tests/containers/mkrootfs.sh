#!/bin/bash
# Build a tiny container root file system for the container-runtime tests:
#
#   tests/containers/mkrootfs.sh ROOTFS [GLIBC_DIR]
#
# ROOTFS gets a merged-/usr Debian-like layout with
#   /usr/bin/busybox (+ sh, sleep, cat, ls links)   from busybox-static
#   /usr/lib/x86_64-linux-gnu/{ld-linux-x86-64.so.2,libc.so.6,libm.so.6}
#                                                    the container's own glibc: copies of the
#                                                    host's, or those found in GLIBC_DIR (e.g. an
#                                                    unpacked libc6 .deb of another release)
#   /usr/lib64/ld-linux-x86-64.so.2 -> ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
#   /opt/cpuport-test/bin/workload, /opt/cpuport-test/lib/libclones.so
#                                                    tests/fixtures/*.c built for this root
#                                                    (rpath /opt/cpuport-test/lib, which does not
#                                                    exist on the host)
#   /out                                             where the workload writes (OUT=/out/w.out)
# Every file is a copy: nothing in the container is a host file.
set -euo pipefail

ROOTFS=${1:?usage: mkrootfs.sh ROOTFS [GLIBC_DIR]}
GLIBC_DIR=${2:-/usr/lib/x86_64-linux-gnu}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUSYBOX=${CPUPORT_BUSYBOX:-/bin/busybox}
CC=${CC:-cc}
MA=usr/lib/x86_64-linux-gnu
OPT=/opt/cpuport-test

die() { echo "mkrootfs: $*" >&2; exit 1; }
[ -x "$BUSYBOX" ] || die "busybox not found at $BUSYBOX: apt-get install busybox-static"
! readelf -l "$BUSYBOX" 2>/dev/null | grep INTERP >/dev/null || die "$BUSYBOX is dynamic: install busybox-static"
for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6; do
	[ -e "$GLIBC_DIR/$f" ] || die "$GLIBC_DIR/$f not found"
done

mkdir -p "$ROOTFS"/{usr/bin,usr/sbin,"$MA",usr/lib64,proc,sys,dev,tmp,etc,out,root} \
	"$ROOTFS$OPT"/{bin,lib,src}
for d in bin sbin lib lib64; do
	[ -e "$ROOTFS/$d" ] || ln -s "usr/$d" "$ROOTFS/$d"
done
cp "$BUSYBOX" "$ROOTFS/usr/bin/busybox"
for a in sh sleep cat ls; do ln -sf busybox "$ROOTFS/usr/bin/$a"; done
for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6; do
	cp -L "$GLIBC_DIR/$f" "$ROOTFS/$MA/$f"
done
ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ROOTFS/usr/lib64/ld-linux-x86-64.so.2"
echo "root:x:0:0:root:/root:/bin/sh" >"$ROOTFS/etc/passwd"
echo "root:x:0:" >"$ROOTFS/etc/group"

# The fixtures, built as tests/tests.mk builds them, but for this root.
FLAGS=(-O2 -g -fno-builtin -Wall -Werror)
cp "$TOP/tests/fixtures/clones_lib.c" "$TOP/tests/fixtures/workload.c" "$ROOTFS$OPT/src/"
"$CC" "${FLAGS[@]}" -fPIC -shared -o "$ROOTFS$OPT/lib/libclones.so" "$TOP/tests/fixtures/clones_lib.c"
"$CC" "${FLAGS[@]}" -o "$ROOTFS$OPT/bin/workload" "$TOP/tests/fixtures/workload.c" \
	-L"$ROOTFS$OPT/lib" -lclones -Wl,-rpath,"$OPT/lib" -lm -lpthread -ldl

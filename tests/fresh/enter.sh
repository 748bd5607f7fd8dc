#!/bin/bash
# enter.sh ROOT NSFILE LOG CMD: run the shell command CMD inside the Debian root ROOT, as a
# machine of its own would: a private mount namespace (the caller runs this under
# `unshare -m --propagation private`), ROOT as / (pivot_root: the host's mounts are not in
# the mount table, so criu sees only the root's), its own /proc, the host's /sys (cgroups),
# a devtmpfs /dev with a new devpts instance and a tmpfs /dev/shm, and no file descriptor
# from outside: stdin is /dev/null and stdout/stderr go to LOG, a path inside the root.
# (criu dump fails with "Can't lookup mount=N for fd=..." when an fd opened outside the
# root leaks into a dumped process; a --rbind /dev fails the same way.)
# The environment is a login's, plus CI=true. The id of the new mount namespace is
# appended to NSFILE (on the host), so that the caller can find every process left in it.
# Used by tests/fresh/fresh-check.sh.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: enter.sh ROOT NSFILE LOG CMD" >&2; exit 2; }
root=$1 nsfile=$2 log=$3 cmd=$4

readlink /proc/self/ns/mnt >>"$nsfile"
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount -t devtmpfs devtmpfs "$root/dev"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot

mkdir -p "$(dirname "$log")"
env_keep=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[ -n "${!v:-}" ] && env_keep+=("$v=${!v}")
done
# bash -c has read its command already (this script's own fd 255 is one to close)
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 CI=true "${env_keep[@]}" \
	/bin/bash -c '
		exec </dev/null >>"$1" 2>&1
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		cd /root
		exec /bin/bash -c "$2"' enter "$log" "$cmd"

#!/bin/bash
# Runs one test as an unprivileged user (nobody:nogroup) when started as root, so a test that
# needs no root cannot come to depend on it unnoticed (tests/tests.mk: UNPRIV_UNIT).
# Not root: runs it as it is.
set -eu
[ "$(id -u)" = 0 ] || exec "$@"
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) not found"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
group=$(id -gn nobody)
as_nobody=(setpriv --reuid=nobody --regid="$group" --clear-groups)
# (an absolute path: the test finds the build from /proc/self/exe, whatever the cwd lets through)
"${as_nobody[@]}" test -x "$(readlink -f "$1")" && exec "${as_nobody[@]}" "$@"
# nobody cannot reach the clone (root's, under /root, mode 700): run a copy of the test, the
# programs and the fixtures it uses, laid out as in build/ (unit_top() is found from the
# test's own path); the fixtures' RUNPATH is the clone's, hence LD_LIBRARY_PATH.
top=$(cd "$(dirname "$0")/.." && pwd)
copy=$(mktemp -d /tmp/cpuport-unpriv.XXXXXX)
trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy/build/unit"
cp -a "$top/build/bin" "$top/build/fixtures" "$copy/build/"
cp -a "$1" "$copy/build/unit/"
chmod -R go+rX "$copy"
test_copy=$copy/build/unit/${1##*/}
shift
cd "$copy"
rc=0
LD_LIBRARY_PATH=$copy/build/fixtures "${as_nobody[@]}" "$test_copy" "$@" || rc=$?
exit "$rc"

#!/bin/bash
# Runs one test as an unprivileged user (nobody:nogroup) when started as root, so a test that
# needs no root cannot come to depend on it unnoticed (tests/tests.mk: UNPRIV_UNIT).
# Not root: runs it as it is.
set -eu
[ "$(id -u)" = 0 ] || exec "$@"
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) not found"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
group=$(id -gn nobody)
exec setpriv --reuid=nobody --regid="$group" --clear-groups "$@"

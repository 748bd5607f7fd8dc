#!/bin/bash
# Shell scripts that run under `set -o pipefail` must not end a pipeline early: in
# `producer | head -n1` (or `grep -q`, `grep -m`, `sed -n 1q`, `awk '... exit'`) the reader
# exits after the first match, the producer dies of SIGPIPE, the pipeline's status is 141 and
# `set -e` ends the script with no message (scripts/setup.sh did so on a fresh machine).
# Read all of the input instead: `sed -n 1p`, `awk 'NR == 1'`, `grep ... >/dev/null`.
# A line that is safe for another reason says so with a trailing "# pipefail-ok: why".
#
# First proves that the hazard is real here, then lists every such line in scripts/, tests/, .ci/.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

# the hazard, for real: a producer that writes more than a pipe holds, cut short by head
rc=0
( set -o pipefail; seq 1 200000 | head -n1 >/dev/null ) || rc=$?	# pipefail-ok: the demonstration
[ "$rc" = 141 ] || { echo "FAIL: expected 'seq | head' to die of SIGPIPE (141) under pipefail, got $rc"; exit 1; }
( set -o pipefail; seq 1 200000 | sed -n 1p >/dev/null ) || { echo "FAIL: 'seq | sed -n 1p' failed"; exit 1; }

bad=0
while IFS= read -r f; do
	# every script: one without pipefail of its own may be sourced by one with it
	# a single | (not ||) followed by a reader that may stop early
	hits=$(grep -nE '(^|[^|])\|[[:space:]]*(head([[:space:]]|$)|grep[[:space:]]+(-[a-zA-Z]*[qm]|--quiet|--max-count)|sed[[:space:]]+-n[[:space:]]+[^|]*[0-9]q|awk[^|]*[^a-z_]exit([^a-z_]|$))' "$f" |
		grep -vE 'pipefail-ok:|^[0-9]+:[[:space:]]*#' || true)
	[ -z "$hits" ] && continue
	while IFS= read -r h; do
		echo "${f#"$top"/}:$h"
		bad=$((bad + 1))
	done <<<"$hits"
done < <(find "$top/scripts" "$top/tests" "$top/.ci" -type f \( -name '*.sh' -o -name run \) | sort)
if [ "$bad" -gt 0 ]; then
	echo "FAIL: $bad pipeline(s) above can die of SIGPIPE under pipefail"
	exit 1
fi
echo "no pipeline under pipefail ends early"

# Shared helpers for tests/integration/*.sh and tests/e2e (sourced, bash).
# Every helper fails loudly; a test that cannot run exits 77 saying why.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIX=$TOP/build/fixtures
# CPUPORT_OUT=build-san: the sanitized build's binaries (tests/san.sh)
OUT=${CPUPORT_OUT:-$TOP/build}
CPUPORT=$OUT/bin/cpuport
PLUGIN_DIR=$OUT/plugin
export CPUPORT_HELPER=$OUT/bin/cpuport-select
CRIU=${CRIU:-criu}
PY=/usr/bin/python3	# Debian's, with python3-protobuf (not a pyenv shim)

skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }
info() { echo "--- $*"; }

require_criu() {
	[ "$(id -u)" = 0 ] || skip "needs root (criu dump/restore)"
	command -v "$CRIU" >/dev/null || skip "criu not found: run scripts/setup.sh"
	local v
	v=$("$CRIU" --version | sed -n 's/^Version: \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
	read -r maj min <<<"$v"
	[ "${maj:-0}" -gt 4 ] || { [ "${maj:-0}" -eq 4 ] && [ "${min:-0}" -ge 1 ]; } ||
		skip "criu $maj.$min is too old (needs >= 4.1): run scripts/setup.sh"
}

# A private work dir, removed (with every process started from it) at exit.
WORK=$(mktemp -d /tmp/cpuport-test.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	pkill -9 -f "$WORK/" 2>/dev/null || true
	awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/mounts | xargs -r umount 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# start_workload BIN OUT [args...] [env VAR=... via the caller]; sets PID
start_workload() {
	local bin=$1 out=$2; shift 2
	setsid "$bin" "$out" "$@" </dev/null >/dev/null 2>&1 &
	PID=$!
	disown "$PID"
	PIDS+=("$PID")
	wait_lines "$out" 3
}

# wait_lines FILE N: until FILE has at least N lines (10 s)
wait_lines() {
	local i
	for i in $(seq 200); do
		[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	die "$1 did not reach $2 lines"
}

# alive PID: exists and is not a zombie waiting for its reaper
alive() {
	[ -r "/proc/$1/stat" ] && ! awk '{exit !($3 == "Z" || $3 == "X")}' "/proc/$1/stat" 2>/dev/null
}

# gone_within PID SECONDS [CMD]: PID is gone or a zombie within SECONDS (a SIGKILLed process may
# still be exiting when criu returns; the kill is final, it runs no more user code). With CMD, a
# process whose command line does not contain CMD counts as gone (the pid was used again).
gone_within() {
	local i
	for i in $(seq $(($2 * 20))); do
		alive "$1" || return 0
		[ -z "${3:-}" ] || grep -qF -- "$3" "/proc/$1/cmdline" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# tree_pids PID: PID and all its descendants
tree_pids() {
	local p c
	echo "$1"
	for p in /proc/"$1"/task/*/children; do
		for c in $(cat "$p" 2>/dev/null); do tree_pids "$c"; done
	done
}

# dump PID IMGDIR [criu options...]: criu dump with the plugin; waits until
# every dumped pid is free again (restoring needs them)
dump() {
	local pid=$1 img=$2 p tree
	shift 2
	mkdir -p "$img"
	tree=$(tree_pids "$pid")
	"$CRIU" dump -t "$pid" -D "$img" -L "$PLUGIN_DIR" -v4 -o dump.log "$@" ||
		{ tail -n 30 "$img/dump.log"; die "criu dump of $pid failed"; }
	for p in $tree; do wait_gone "$p"; done
}

# wait_gone PID: the dumped task is reaped before its pid can be restored
wait_gone() {
	local i
	for i in $(seq 100); do
		[ -d "/proc/$1" ] || return 0
		sleep 0.05
	done
	die "pid $1 still exists after the dump (a zombie not reaped yet?)"
}

# restore IMGDIR [criu options...]: restore detached, with the plugin; sets PID
restore() {
	local img=$1; shift
	"$CRIU" restore -D "$img" -L "$PLUGIN_DIR" -d -v4 -o restore.log --pidfile "$img/restored.pid" "$@" ||
		{ tail -n 30 "$img/restore.log"; return 1; }
	PID=$(cat "$img/restored.pid")
	PIDS+=("$PID")
}

# check_running OUT PID: PID alive, OUT grows, every new line "ok", iterations continue
check_running() {
	local out=$1 pid=$2 before last first new bad snap
	snap=$(cat "$out")	# one snapshot: the process may append between two reads
	before=$(wc -l <<<"$snap")
	last=$(tail -n1 <<<"$snap" | sed -n 's/^iter=\([0-9]*\) .*/\1/p')
	wait_lines "$out" $((before + 5))
	alive "$pid" || die "process $pid died after restore"
	first=$(sed -n "$((before + 1))p" "$out" | sed -n 's/^iter=\([0-9]*\) .*/\1/p')
	new=$(($(wc -l <"$out") - before))
	bad=$(tail -n "+$((before + 1))" "$out" | grep -vc ' ok$' || true)
	[ "$bad" -eq 0 ] || die "$bad of $new new lines in $out are BAD"
	[ "$first" = "$((last + 1))" ] || die "iterations did not continue: last $last, then $first"
	info "$out: $new new iterations after restore, all correct"
}

# json_slot_target JSON_FILE SYMBOL OBJECT_SUBSTR: variant name bound to SYMBOL's slot in that object
json_slot_target() {
	python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if isinstance(d, list): d = d[0]
for s in d["slots"]:
    o = d["objects"][s["object"]]["path"]
    name = (s.get("symbol") or s.get("resolver", {}).get("symbol") or "").split("@")[0]
    if name == sys.argv[2] and sys.argv[3] in o:
        print(s.get("target", {}).get("symbol", "(unbound)"))
        break
PY
}

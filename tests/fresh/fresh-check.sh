#!/bin/bash
# fresh-check.sh: the README's two commands, from zero, in a fresh Debian 12 root (make fresh-check).
#
#   tests/fresh/fresh-check.sh [--keep] [-v]
#
# 1. debootstrap --variant=minbase bookworm, from the Debian mirror this machine's apt uses
#    (read from /etc/apt/sources.list*, never a hard-coded host), into a new directory under
#    $FRESH_DIR (default: /var/tmp, or /tmp if only it has room; about 6 GiB are needed);
# 2. git clone of this repository's committed HEAD into the root's $FRESH_CLONE (default
#    /root/cpuport, where root's clone would be; uncommitted changes are not tested);
# 3. inside the root (tests/fresh/enter.sh: own mount namespace, pivot_root, own /proc,
#    devtmpfs /dev, no inherited fd, no stdin, CI=true):
#      scripts/setup.sh          from zero, cut short right after CRIU's sources are fetched
#                                (CPUPORT_SETUP_FAIL_AFTER=criu-source), as a failed run would;
#      scripts/setup.sh          again, picking that up: packages, CRIU and libcpuid builds,
#                                guest kernel, demo
#      scripts/setup.sh again    must change nothing: the same Debian packages at the same
#                                versions, the same content in /usr/local, /usr/lib/criu,
#                                /etc and /var/cache/cpuport, and no file written under
#                                /usr/local/src, /var/cache/cpuport or the clone's build/
#      make test                 must end with "N passed, 0 failed"
# Prints the time of each step and a summary. Exit status 0 only if every step passed; a
# failing step's log tail is printed. Logs are kept in build/fresh/ of this repository.
# Clean-up, also after a failure or Ctrl-C: every process left inside the root is killed,
# its mounts vanish with its namespaces, the root is removed (--keep: left for inspection).
# -v: show each step's output as it runs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KEEP=0 VERBOSE=0
for a in "$@"; do
	case $a in
	--keep) KEEP=1 ;;
	-v) VERBOSE=1 ;;
	-h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "fresh-check: unknown option $a" >&2; exit 2 ;;
	esac
done

die() { echo "fresh-check: error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, mounts, and the set-up inside need it)"
TOP=$(git -C "$HERE" rev-parse --show-toplevel) || die "not in a git repository"
HEAD_FULL=$(git -C "$TOP" rev-parse HEAD)
HEAD=${HEAD_FULL:0:7}
for t in unshare pivot_root mount umount; do
	command -v "$t" >/dev/null || die "$t not found (util-linux)"
done
LOGS=$TOP/build/fresh
CLONE=${FRESH_CLONE:-/root/cpuport}
[[ $CLONE == /* && $CLONE != *[[:space:]\'\"]* ]] || die "FRESH_CLONE must be an absolute path without spaces or quotes"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log

# --- where Debian's archive is (as scripts/setup.sh reads it) -----------------------------
# Prints "URI SUITE" for every deb entry of bookworm, bookworm-updates and bookworm-security.
apt_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources) awk '
			function flush(  i, j, nu, ns, us, ss) {
				if (deb && en != "no") {
					nu = split(uris, us, " "); ns = split(suites, ss, " ")
					for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
						if (ss[j] ~ /^bookworm(-updates|-security)?$/) print us[i], ss[j]
				}
				deb = 0; en = ""; uris = ""; suites = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{ k = tolower($1); v = $0; sub(/^[^:]*:[ \t]*/, "", v) }
			k == "types:" { deb = (" " v " " ~ / deb /) }
			k == "uris:" { uris = v }
			k == "suites:" { suites = v }
			k == "enabled:" { en = tolower(v) }
			END { flush() }' "$f" ;;
		*) awk '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i+1) ~ /^bookworm(-updates|-security)?$/) print $i, $(i+1)
			}' "$f" ;;
		esac
	done
}
ENTRIES=$(apt_entries)
MIRROR=$(awk '$2 == "bookworm" && !m { m = $1 } END { print m }' <<<"$ENTRIES")
[ -n "$MIRROR" ] || die "no 'bookworm' entry in apt's sources (/etc/apt/sources.list*): cannot tell where Debian's archive is"
MIRROR=${MIRROR%/}

# --- where the root goes -------------------------------------------------------------
avail_kib() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'; }
NEED_KIB=$((6 * 1024 * 1024))
if [ -n "${FRESH_DIR:-}" ]; then
	PARENT=$FRESH_DIR
elif [ "$(avail_kib /var/tmp)" -lt "$NEED_KIB" ] && [ "$(avail_kib /tmp)" -gt "$(avail_kib /var/tmp)" ]; then
	PARENT=/tmp
else
	PARENT=/var/tmp
fi
[ "$(avail_kib "$PARENT")" -ge "$NEED_KIB" ] ||
	die "$PARENT has $(( $(avail_kib "$PARENT") / 1024 )) MiB free; the fresh root needs about 6 GiB (set FRESH_DIR)"
BASE=$(mktemp -d "$PARENT/cpuport-fresh.XXXXXX")
ROOT=$BASE/root STATE=$BASE/state
mkdir -p "$ROOT" "$STATE"
: >"$STATE/mntns"

# --- clean-up ----------------------------------------------------------------------------
STEP_PID=
procs_inside() {	# pids of processes in one of the root's mount namespaces, or under ROOT, and their descendants
	local p n r pid ppid added
	declare -A in=()
	[ -n "$STEP_PID" ] && in[$STEP_PID]=1
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		n=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
		r=$(readlink "$p/root" 2>/dev/null) || r=
		if grep -qxF "$n" "$STATE/mntns" || [ "$r" = "$ROOT" ] || [[ $r == "$ROOT"/* ]]; then
			in[$pid]=1
		fi
	done
	added=1
	while [ "$added" = 1 ] && [ ${#in[@]} -gt 0 ]; do
		added=0
		for p in /proc/[0-9]*; do
			pid=${p#/proc/}
			[ -n "${in[$pid]:-}" ] && continue
			ppid=$(awk '$1 == "PPid:" { print $2 }' "$p/status" 2>/dev/null) || continue
			if [ -n "$ppid" ] && [ -n "${in[$ppid]:-}" ]; then in[$pid]=1; added=1; fi
		done
	done
	echo "${!in[@]}"
}
mounts_under() {	# mount points under ROOT in this (the host's) mount namespace, deepest first
	awk -v r="$ROOT" '{ m = $5; gsub(/\\040/, " ", m); if (m == r || index(m, r "/") == 1) print m }' \
		/proc/self/mountinfo | sort -r
}
CLEANED=0
cleanup() {
	[ "$CLEANED" = 1 ] && return
	CLEANED=1
	trap '' INT TERM
	set +e	# (a killed step's status from wait must not end the clean-up)
	local i pids m left
	# All at once, found before any is killed: a killed parent's children would be
	# re-parented out of sight. Later rounds catch what was forked meanwhile.
	for i in 1 2 3 4 5; do
		pids=$(procs_inside)
		[ -z "$pids" ] && break
		[ "$i" = 1 ] && echo "clean-up: killing $(wc -w <<<"$pids") process(es) left in the root"
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
		sleep 1
	done 2>/dev/null	# (not bash's "Killed" notice for the step)
	[ -n "$STEP_PID" ] && wait "$STEP_PID" 2>/dev/null
	# Mounts live in the steps' namespaces and vanish with them; debootstrap ran in one too.
	# Anything still mounted under ROOT here is unmounted before the root is removed.
	for m in $(mounts_under); do umount -l "$m" 2>/dev/null || true; done
	left=$(mounts_under)
	cp "$STATE"/*.log "$ROOT"/var/log/cpuport-fresh/*.log "$LOGS"/ 2>/dev/null || true
	if [ -n "$left" ]; then
		echo "clean-up: still mounted under $ROOT, not removed: $left" >&2
	elif [ "$KEEP" = 1 ]; then
		echo "clean-up: root kept (--keep): $ROOT"
	else
		# never crosses into another file system, even one mounted there after the check
		rm -rf --one-file-system "$BASE" 2>/dev/null || { sleep 2; rm -rf --one-file-system "$BASE"; }
	fi
}
trap cleanup EXIT
trap 'echo; echo "fresh-check: interrupted" >&2; exit 130' INT
trap 'echo "fresh-check: terminated" >&2; exit 143' TERM

# --- steps ---------------------------------------------------------------------------
NAMES=() TIMES=() RESULTS=()
fmt() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
summary() {
	local i
	echo
	echo "fresh-check summary (HEAD $HEAD, mirror $MIRROR):"
	for i in "${!NAMES[@]}"; do
		printf '  %-6s %-28s %s\n' "${RESULTS[$i]}" "${NAMES[$i]}" "$(fmt "${TIMES[$i]}")"
	done
	printf '  %-6s %-28s %s\n' "" total "$(fmt $SECONDS)"
	echo "  logs: $LOGS/"
}
# step NAME LOG FUNCTION...: run FUNCTION in the background (a signal reaches the trap at
# once), time it, and on failure print LOG's tail and stop.
step() {
	local name=$1 log=$2 start=$SECONDS rc=0 tailpid=
	shift 2
	printf '==> %-28s ' "$name"
	[ "$VERBOSE" = 1 ] && { echo; : >>"$log"; tail -n +1 -F "$log" 2>/dev/null & tailpid=$!; }
	"$@" &
	STEP_PID=$!
	wait "$STEP_PID" || rc=$?
	STEP_PID=
	[ -n "$tailpid" ] && { sleep 1; kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null || true; }
	NAMES+=("$name") TIMES+=($((SECONDS - start)))
	if [ "$rc" = 0 ]; then
		RESULTS+=(ok)
		echo "ok ($(fmt $((SECONDS - start))))"
	else
		RESULTS+=(FAILED)
		echo "FAILED (exit $rc, $(fmt $((SECONDS - start))))"
		if grep '^FAIL  ' "$log" >/dev/null 2>&1; then
			# tests/run.sh's report: each failed test with its log's tail, then the count
			echo "---- failed tests in $(basename "$log") ----"
			awk '/^FAIL  / { p = 1; n = 0; print; next }
				p && /^    \|/ { if (n++ < 25) print; next }
				{ p = 0 }' "$log" | sed 's/^/    /'
			echo "---- last lines of $(basename "$log") ----"
			tail -n 4 "$log" | sed 's/^/    | /'
		else
			echo "---- last lines of $(basename "$log") ----"
			tail -n 40 "$log" 2>/dev/null | sed 's/^/    | /'
		fi
		summary
		exit 1
	fi
}
inside() {	# inside STEP CMD: run CMD in the root (tests/fresh/enter.sh); its output in STEP.log
	unshare -m --propagation private "$HERE/enter.sh" "$ROOT" "$STATE/mntns" \
		"/var/log/cpuport-fresh/$1.log" "$2" >>"$STATE/$1.enter.log" 2>&1 || {
		local rc=$?
		cat "$STATE/$1.enter.log" >>"$ROOT/var/log/cpuport-fresh/$1.log" 2>/dev/null
		return $rc
	}
}

do_debootstrap() {
	if ! command -v debootstrap >/dev/null; then
		echo "installing debootstrap on this machine"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			-o DPkg::Lock::Timeout=300 debootstrap || return 1
	fi
	# its own mount namespace: the /proc and /sys it mounts in the root vanish with it
	unshare -m --propagation private /bin/sh -c 'readlink /proc/self/ns/mnt >>"$1"; shift; exec "$@"' \
		sh "$STATE/mntns" debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
}
do_prepare() {
	local uri suites
	# apt: the host's Debian entries for bookworm (not the host's other repositories)
	: >"$ROOT/etc/apt/sources.list"
	{
		echo "# bookworm entries of the host's apt sources (tests/fresh/fresh-check.sh)"
		for uri in $(awk '{ print $1 }' <<<"$ENTRIES" | sort -u); do
			suites=$(awk -v u="$uri" '$1 == u { printf "%s%s", s, $2; s = " " }' <<<"$ENTRIES")
			printf '\nTypes: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "$suites"
			echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
		done
	} >"$ROOT/etc/apt/sources.list.d/debian.sources"
	cat /etc/resolv.conf >"$ROOT/etc/resolv.conf"
	[ -s "$ROOT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
		>"$ROOT/etc/hosts"
	# no service starts in the root (nothing would stop it)
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
	chmod 755 "$ROOT/usr/sbin/policy-rc.d"
	mkdir -p "$ROOT/var/log/cpuport-fresh"
	mkdir -p "$ROOT$(dirname "$CLONE")"
	git -c advice.detachedHead=false clone -q --no-hardlinks "$TOP" "$ROOT$CLONE"
	# exactly the commit tested (a detached HEAD, or a worktree's branch)
	[ "$(git -C "$ROOT$CLONE" rev-parse HEAD)" = "$HEAD_FULL" ] ||
		git -C "$ROOT$CLONE" -c advice.detachedHead=false checkout -q --detach "$HEAD_FULL"
	git -C "$ROOT$CLONE" log -1 --format="cloned %h %s into $CLONE"
}

# snapshot FILE: what a second set-up run must leave alone
snapshot() {
	{
		dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f '${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\n'
		(cd "$ROOT" && find usr/local usr/lib/criu etc var/cache/cpuport -xdev -type f -print0 2>/dev/null |
			sort -z | xargs -0 -r sha256sum)
		(cd "$ROOT" && find usr/local usr/lib/criu etc var/cache/cpuport -xdev -type l -printf '%p -> %l\n' 2>/dev/null |
			sort)
	} >"$1"
}
do_setup_again() {
	local log=$ROOT/var/log/cpuport-fresh/setup-again.log written
	snapshot "$STATE/before"
	touch "$STATE/stamp"
	sleep 1
	inside setup-again "cd $CLONE && scripts/setup.sh" || return
	snapshot "$STATE/after"
	written=$(cd "$ROOT" && find usr/local/src var/cache/cpuport ".$CLONE/build" -xdev -type f \
		-newer "$STATE/stamp" -not -path ".$CLONE/build/test-logs/*" 2>/dev/null | sort)
	if ! diff -u "$STATE/before" "$STATE/after" >"$STATE/changes.diff" || [ -n "$written" ]; then
		{
			echo
			echo "fresh-check: the second scripts/setup.sh changed the machine:"
			# (no `| head`: under pipefail a writer killed by SIGPIPE fails the pipeline)
			if [ -s "$STATE/changes.diff" ]; then
				awk 'NR > 2 && /^[-+]/ && n++ < 40' "$STATE/changes.diff"
			fi
			if [ -n "$written" ]; then
				echo "files written (a build or download ran again):"
				awk 'NR <= 40' <<<"$written"
			fi
		} >>"$log"
		return 1
	fi
	echo "second run changed nothing: $(wc -l <"$STATE/after") packages and files compared" >>"$log"
}
# A run that fails part-way (here: right after CRIU's sources are downloaded and unpacked),
# as an interrupted or failed first run would; the next step's full run must pick it up.
do_setup_cut_short() {
	local log=$ROOT/var/log/cpuport-fresh/setup-cut.log
	if inside setup-cut "cd $CLONE && CPUPORT_SETUP_FAIL_AFTER=criu-source scripts/setup.sh"; then
		echo "fresh-check: setup.sh with CPUPORT_SETUP_FAIL_AFTER=criu-source did not fail" >>"$log"
		return 1
	fi
	grep "stopped after 'criu-source'" "$log" >/dev/null ||
		{ echo "fresh-check: setup.sh failed before reaching criu-source" >>"$log"; return 1; }
}
do_make_test() {
	local log=$ROOT/var/log/cpuport-fresh/make-test.log last
	inside make-test "cd $CLONE && make test" || return
	last=$(tail -n 1 "$log")
	[[ $last =~ ^[0-9]+\ passed,\ 0\ failed ]] || { echo "fresh-check: make test did not end with 'N passed, 0 failed'" >>"$log"; return 1; }
}

echo "fresh-check: HEAD $HEAD of $TOP, Debian mirror $MIRROR, root $ROOT"
git -C "$TOP" diff --quiet HEAD 2>/dev/null || echo "fresh-check: note: uncommitted changes in $TOP are not tested"
step debootstrap "$STATE/debootstrap.log" eval 'do_debootstrap >"$STATE/debootstrap.log" 2>&1'
step "prepare root, clone" "$STATE/prepare.log" eval 'do_prepare >"$STATE/prepare.log" 2>&1'
step "scripts/setup.sh, cut short" "$ROOT/var/log/cpuport-fresh/setup-cut.log" do_setup_cut_short
step "scripts/setup.sh" "$ROOT/var/log/cpuport-fresh/setup.log" inside setup "cd $CLONE && scripts/setup.sh"
step "scripts/setup.sh again" "$ROOT/var/log/cpuport-fresh/setup-again.log" do_setup_again
step "make test" "$ROOT/var/log/cpuport-fresh/make-test.log" do_make_test
summary
echo "  make test: $(tail -n 1 "$ROOT/var/log/cpuport-fresh/make-test.log")"
grep '^SKIP' "$ROOT/var/log/cpuport-fresh/make-test.log" | sed 's/^/    /' || true
echo "fresh-check: passed"

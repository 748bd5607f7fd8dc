#!/bin/bash
# runc: checkpoint a running container with the *installed* plugin (criu's default plugin dir
# /usr/lib/criu, found by runc's `criu swrk`), restore it with CPUPORT_TARGET=x86-64-v2 passed
# through runc's environment, and check that
#  - cpuport saw the container's own objects, by their paths inside the container (the workload
#    under /opt/cpuport-test, which does not exist on the host, and the container's glibc);
#  - the cpuport image is in runc's image dir, and the plugin's lines are in runc's criu logs
#    (WORK-PATH/dump.log and WORK-PATH/restore.log);
#  - the restored container keeps producing correct output, bound to SSE variants only.
# Twice: (1) a copy of the host's glibc in the container; (2) another glibc than the host's,
# Debian trixie's 2.41 (libc6 unpacked into the rootfs, never installed), when scripts/setup.sh
# unpacked it or the archive can be reached.  The container's objects are copies: the test
# checks that the restored process maps the rootfs files, not the host's.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/containers/common.sh"
pick_criu
require_criu
command -v runc >/dev/null || skip "runc not installed (apt-get install runc; scripts/setup.sh installs it)"
require_netlock
require_installed
# settle everything a user's runtime would not set: the installed helper, no extra plugin dir
unset CPUPORT_HELPER CRIU_LIBS_DIR CPUPORT_TARGET CPUPORT_DISABLE CPUPORT_TIMEOUT_MS
if [ -f /etc/criu/runc.conf ] && grep -q '^[[:space:]]*libdir' /etc/criu/runc.conf; then
	skip "/etc/criu/runc.conf sets libdir: criu would not load plugins from /usr/lib/criu"
fi

RUNC=(runc --root "$WORK/runc" --criu "$CRIU")	# --criu: never the criu that PATH finds first
NAMES=()
ct_cleanup() {
	local n
	for n in "${NAMES[@]}"; do "${RUNC[@]}" delete --force "$n" >/dev/null 2>&1 || true; done
	cleanup
}
trap ct_cleanup EXIT

ct_pid() {	# ct_pid NAME: the container's init, as a host pid
	"${RUNC[@]}" state "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])'
}

# check_helper_sandbox CASE RESTORE_LOG PID: the helper ran in the container's 7 namespaces and its
# cgroups, as its uid (root inside, here), with no capability at all, though the container's root
# has some; no_new_privs and a seccomp filter (issue 13, defect 1)
check_helper_sandbox() {
	local case=$1 log=$2 pid=$3 sb=$WORK/$1.sandbox ns want c line
	sed -n 's/^.*selection helper sandbox: //p' "$log" | sed 's/ *$//' >"$sb"
	[ -s "$sb" ] || die "[$case] no 'selection helper sandbox' lines in $log"
	for ns in user mnt pid net ipc uts cgroup; do
		want=$(readlink "/proc/$pid/ns/$ns")
		grep -qxF "ns $want" "$sb" || die "[$case] helper not in the container's $ns namespace $want: $(grep "^ns $ns" "$sb")"
	done
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -qx "$c 0000000000000000" "$sb" || die "[$case] helper $(grep "^$c" "$sb"), want 0"
	done
	grep -qx "NoNewPrivs 1" "$sb" && grep -qx "Seccomp 2" "$sb" || die "[$case] helper without no_new_privs/seccomp"
	want=$(awk '/^Uid:/ {print $3}' "/proc/$pid/status")
	grep -qx "Uid $want $want $want $want" "$sb" || die "[$case] helper $(grep ^Uid "$sb"), container uid $want"
	c=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
	[ "$c" != 0000000000000000 ] || info "[$case] NOTE: the container's root has no capability either"
	info "[$case] helper: uid $want, CapEff 0 (the container's root: $c), in its 7 namespaces"
}

# run_case CASE GLIBC_DIR DEBUG_ROOT
run_case() {
	local case=$1 glibc=$2 dbg=$3 b=$WORK/$1 name=cpuport-test-$$-$1 pid img wd out t0 t1
	info "[$case] container glibc: $(grep -aom1 'GNU C Library ([^)]*) [a-z ]*version [0-9.]*' "$glibc/libc.so.6")"
	make_rootfs "$b/rootfs" "$glibc"
	(cd "$b" && runc spec)
	python3 - "$b/config.json" "$CT_OPT" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = [sys.argv[2] + "/bin/workload", "/out/w.out"]
c["process"].pop("apparmorProfile", None)	# no AppArmor in these kernels
c["root"]["readonly"] = False
c["hostname"] = "cpuport-test"
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
	out=$b/rootfs/out/w.out	# /out/w.out inside the container
	NAMES+=("$name")
	# container stdio to a host file breaks the dump: /dev/null
	"${RUNC[@]}" run -d --bundle "$b" "$name" </dev/null >/dev/null 2>&1 || die "runc run failed"
	wait_lines "$out" 3
	pid=$(ct_pid "$name")
	"$CPUPORT" scan --json "$pid" >"$b/before.json" 2>"$b/scan.err" || { cat "$b/scan.err"; die "cpuport scan failed"; }
	check_objects "$b/before.json"
	same_file_mapped "$pid" "$CT_MA/libc.so.6" "$b/rootfs$CT_MA/libc.so.6" ||
		die "the container's libc.so.6 is not the rootfs copy"
	same_file_mapped "$pid" "$CT_MA/libc.so.6" "$CT_MA/libc.so.6" &&
		die "the container maps the host's own libc.so.6"
	bound_names "$b/before.json" "$dbg" >"$b/before.names"
	grep -Eq '^strlen .*(avx|evex)' "$b/before.names" ||
		die "before the checkpoint strlen should be bound to an AVX2 variant: $(grep '^strlen' "$b/before.names")"

	img=$b/img wd=$b/work
	t0=${EPOCHREALTIME/./}
	"${RUNC[@]}" checkpoint --image-path "$img" --work-path "$wd" "$name" ||
		{ tail -n 30 "$wd/dump.log"; die "runc checkpoint failed"; }
	t1=${EPOCHREALTIME/./}
	info "[$case] runc checkpoint: $(((t1 - t0) / 1000)) ms"
	grep -q 'Version: 4\.' "$wd/dump.log" || die "runc did not run criu >= 4.1: $(grep -m1 Version: "$wd/dump.log")"
	grep -q 'Plugin "cpuport"' "$wd/dump.log" || die "criu swrk did not load cpuport from /usr/lib/criu"
	grep -Eq 'cpuport: pid [0-9]+: recorded [0-9]+ slots' "$wd/dump.log" || die "no dump summary in $wd/dump.log"
	info "[$case] dump.log: $(grep -Em1 'cpuport: pid [0-9]+: recorded' "$wd/dump.log" | sed 's/^.*cpuport: //')"
	[ -f "$img/cpuport-1.img" ] || die "no cpuport-1.img (the container's init, pid 1 inside) in $img"
	"$CPUPORT" show --json "$img" >"$b/show.json" || die "cpuport show $img failed"
	python3 - "$b/show.json" "$(build_id "$b/rootfs$CT_MA/libc.so.6")" "$CT_MA/libc.so.6" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
d = d[0] if isinstance(d, list) else d
libc = [o for o in d["objects"] if o["path"] == sys.argv[3]]
print("image: nspid %s, %d objects, %d slots; libc build-id %s" %
      (d.get("nspid"), len(d["objects"]), len(d["slots"]), libc[0]["build_id"] if libc else None))
sys.exit(0 if libc and libc[0]["build_id"] == sys.argv[2] and d.get("nspid") == 1 else 1)
PY
		die "the cpuport image does not record the container's libc (by its path inside and build-id)"

	t0=${EPOCHREALTIME/./}
	CPUPORT_TARGET=x86-64-v2 "${RUNC[@]}" restore -d --image-path "$img" --work-path "$b/work2" \
		--bundle "$b" "$name" </dev/null >/dev/null 2>&1 ||
		{ tail -n 30 "$b/work2/restore.log"; die "runc restore failed"; }
	t1=${EPOCHREALTIME/./}
	info "[$case] runc restore: $(((t1 - t0) / 1000)) ms"
	grep -q 'cpuport: re-selecting as on target CPU x86-64-v2' "$b/work2/restore.log" ||
		die "CPUPORT_TARGET did not reach the plugin through runc"
	grep -Eq 'cpuport: pid [0-9]+: re-patched' "$b/work2/restore.log" ||
		{ grep cpuport "$b/work2/restore.log" | tail; die "no re-patch summary in $b/work2/restore.log"; }
	info "[$case] restore.log: $(grep -Em1 'cpuport: pid [0-9]+: re-patched' "$b/work2/restore.log" | sed 's/^.*cpuport: //')"
	grep -hE '(Warn|Error).*cpuport: ' "$wd/dump.log" "$b/work2/restore.log" | sed "s/^.*cpuport: /--- [$case] plugin: /" || true
	pid=$(ct_pid "$name")
	PIDS+=("$pid")
	check_helper_sandbox "$case" "$b/work2/restore.log" "$pid"
	check_running "$out" "$pid"
	"$CPUPORT" scan --json "$pid" >"$b/after.json" 2>"$b/scan.err" || { cat "$b/scan.err"; die "cpuport scan failed"; }
	check_objects "$b/after.json"
	bound_names "$b/after.json" "$dbg" >"$b/after.names"
	info "[$case] strlen: $(awk '$1 == "strlen" {printf "%s (%s) ", $2, $3}' "$b/before.names")->" \
		"$(awk '$1 == "strlen" {printf "%s (%s) ", $2, $3}' "$b/after.names")"
	check_no_variant_beyond "$b/after.names" x86-64-v2
	sleep 0.2
	grep -q 'cpu_supports avx2 0 avx512f 0 lib_avx2 0' "$out.bind" ||
		die "libgcc's model not refreshed in the container: $(grep cpu_supports "$out.bind")"
	# later dlsym() calls run resolvers on ld.so's cpu_features: refreshed where cpuport knows
	# the container glibc's layout (resolver/glibc_layout.c)
	dl=$(awk '$1=="dlsym" && $2=="strlen" {print $3}' "$out.bind")
	fp=$(awk '$1=="fp" && $2=="strlen" {print $3}' "$out.bind")
	if grep -q 'has no known layout' "$wd/dump.log"; then
		info "[$case] NOTE: cpuport does not know this glibc's layout: ld.so's cpu_features kept the" \
			"source CPU's (dlsym(strlen) $dl, GOT $fp)"
	else
		[ "$dl" = "$fp" ] || die "dlsym(strlen)=$dl but the GOT holds $fp: cpu_features not refreshed"
	fi
	"${RUNC[@]}" delete --force "$name"
}

run_case host-glibc "$CT_MA" ""
# (2) another glibc than the host's.  cpuport names variants from the host's /usr/lib/debug,
# which has nothing for that glibc: the test names them from its own libc6-dbg.  Use the copy
# scripts/setup.sh unpacked (with libc6-dbg beside it), else fetch a matching libc6 + libc6-dbg
# pair into build/ (tests/containers/fetch-glibc.sh; private apt configuration).
troot=${CPUPORT_CACHE:-/var/cache/cpuport}/trixie-root
cache=$TOP/build/containers/glibc-trixie
if [ -x "$troot$CT_MA/ld-linux-x86-64.so.2" ] && [ -d "$troot/usr/lib/debug/.build-id" ]; then
	run_case trixie-glibc "$troot$CT_MA" "$troot"
elif glibc=$("$CT/fetch-glibc.sh" "$cache" trixie 2>"$WORK/fetch.log"); then
	run_case trixie-glibc "$glibc" "$cache/dbg"
else
	cat "$WORK/fetch.log"
	info "NOTE: case trixie-glibc not run: Debian trixie's libc6 could not be fetched"
fi

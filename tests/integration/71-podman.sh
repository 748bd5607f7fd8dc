#!/bin/bash
# Podman: `podman container checkpoint --export` of a running container with the *installed*
# plugin (/usr/lib/criu), then `podman container restore --import` re-selecting as on
# x86-64-v2.  Podman strips the environment before runc and criu, so the target comes from
# /etc/cpuport.conf, written for the restore and removed afterwards (a file that was there
# before is put back).  Checks: the exported archive holds the cpuport image, the plugin's
# lines are in criu's logs in the container's userdata dir (kept by --keep), and the restored
# container keeps producing correct output, bound to SSE variants only.
# Podman runs with a private configuration (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF): its
# storage, state and events live in the test's work dir, not in /var/lib/containers.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/containers/common.sh"
pick_criu
require_criu
command -v podman >/dev/null || skip "podman not installed (apt-get install podman; scripts/setup.sh installs it)"
command -v runc >/dev/null || skip "runc not installed (podman's runtime here)"
require_netlock
require_installed
unset CPUPORT_HELPER CRIU_LIBS_DIR CPUPORT_TARGET CPUPORT_DISABLE CPUPORT_TIMEOUT_MS
# podman and runc find criu on PATH (podman keeps PATH): the >= 4.1 one first
PATH=$(dirname "$CRIU"):$PATH
export PATH

P=$WORK/podman
mkdir -p "$P" "$WORK/out"
cat >"$P/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
runtime = "runc"
static_dir = "$P/libpod"
tmp_dir = "$P/tmp"
volume_path = "$P/volumes"
EOF
cat >"$P/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$P/storage"
runroot = "$P/run"
EOF
export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf

CONF=/etc/cpuport.conf SAVED=
if [ -e "$CONF" ]; then
	SAVED=$WORK/cpuport.conf.saved
	cp -a "$CONF" "$SAVED"
	rm -f "$CONF"	# the dump runs with the defaults
fi
NAME=cpuport-test-$$ IMAGE=localhost/cpuport-test-$$:latest
pm_cleanup() {
	podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
	podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
	if [ -n "$SAVED" ]; then cp -a "$SAVED" "$CONF"; else rm -f "$CONF"; fi
	# anything podman left mounted in its private storage
	findmnt -rn -o TARGET | grep "^$P/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	cleanup
}
trap pm_cleanup EXIT
trap 'exit 130' INT TERM

make_rootfs "$WORK/rootfs"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
podman import -q "$WORK/rootfs.tar" "$IMAGE" >/dev/null || die "podman import failed"
# root here may not raise these limits past the defaults: set them (else "error setting rlimit")
podman run -d --name "$NAME" --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
	-v "$WORK/out:/out" "$IMAGE" "$CT_OPT/bin/workload" /out/w.out >/dev/null || die "podman run failed"
out=$WORK/out/w.out
wait_lines "$out" 3
pid=$(podman inspect -f '{{.State.Pid}}' "$NAME")
"$CPUPORT" scan --json "$pid" >"$WORK/before.json" || die "cpuport scan failed"
check_objects "$WORK/before.json"
bound_names "$WORK/before.json" >"$WORK/before.names"

t0=${EPOCHREALTIME/./}
podman container checkpoint --keep --compress none --export "$WORK/ck.tar" "$NAME" >/dev/null ||
	die "podman container checkpoint failed"
t1=${EPOCHREALTIME/./}
info "podman container checkpoint --export: $(((t1 - t0) / 1000)) ms"
ud=$(podman inspect -f '{{.StaticDir}}' "$NAME")	# the container's userdata dir: criu's logs
grep -q 'Version: 4\.' "$ud/dump.log" || die "podman's runc did not run criu >= 4.1: $(grep -m1 Version: "$ud/dump.log")"
grep -q 'Plugin "cpuport"' "$ud/dump.log" || die "criu did not load cpuport from /usr/lib/criu"
grep -Eq 'cpuport: pid [0-9]+: recorded' "$ud/dump.log" || die "no dump summary in $ud/dump.log"
info "dump.log: $(grep -Em1 'cpuport: pid [0-9]+: recorded' "$ud/dump.log" | sed 's/^.*cpuport: //')"
mkdir -p "$WORK/ck"
tar -C "$WORK/ck" -xf "$WORK/ck.tar" checkpoint || die "no checkpoint/ in the exported archive"
[ -f "$WORK/ck/checkpoint/cpuport-1.img" ] || die "the exported archive has no checkpoint/cpuport-1.img"
"$CPUPORT" show "$WORK/ck/checkpoint" | sed -n 2p
podman rm -f -t 0 "$NAME" >/dev/null	# restore --import creates it again

echo "target = x86-64-v2" >"$CONF"
t0=${EPOCHREALTIME/./}
podman container restore --keep --import "$WORK/ck.tar" >/dev/null || die "podman container restore --import failed"
t1=${EPOCHREALTIME/./}
if [ -n "$SAVED" ]; then cp -a "$SAVED" "$CONF"; else rm -f "$CONF"; fi
info "podman container restore --import: $(((t1 - t0) / 1000)) ms"
ud=$(podman inspect -f '{{.StaticDir}}' "$NAME")
grep -q 'cpuport: re-selecting as on target CPU x86-64-v2' "$ud/restore.log" ||
	die "the target from $CONF did not reach the plugin"
grep -Eq 'cpuport: pid [0-9]+: re-patched' "$ud/restore.log" ||
	{ grep cpuport "$ud/restore.log" | tail; die "no re-patch summary in $ud/restore.log"; }
info "restore.log: $(grep -Em1 'cpuport: pid [0-9]+: re-patched' "$ud/restore.log" | sed 's/^.*cpuport: //')"
pid=$(podman inspect -f '{{.State.Pid}}' "$NAME")
PIDS+=("$pid")
check_running "$out" "$pid"
"$CPUPORT" scan --json "$pid" >"$WORK/after.json" || die "cpuport scan failed"
check_objects "$WORK/after.json"
bound_names "$WORK/after.json" >"$WORK/after.names"
info "strlen: $(awk '$1 == "strlen" {printf "%s (%s) ", $2, $3}' "$WORK/before.names")->" \
	"$(awk '$1 == "strlen" {printf "%s (%s) ", $2, $3}' "$WORK/after.names")"
check_no_variant_beyond "$WORK/after.names" x86-64-v2
sleep 0.2
grep -q 'cpu_supports avx2 0 avx512f 0 lib_avx2 0' "$out.bind" ||
	die "libgcc's model not refreshed: $(grep cpu_supports "$out.bind")"
dl=$(awk '$1=="dlsym" && $2=="strlen" {print $3}' "$out.bind")
fp=$(awk '$1=="fp" && $2=="strlen" {print $3}' "$out.bind")
[ "$dl" = "$fp" ] || die "dlsym(strlen)=$dl but the GOT holds $fp: cpu_features not refreshed"

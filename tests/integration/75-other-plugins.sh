#!/bin/bash
# cpuport next to CRIU's cuda plugin in one plugin directory, on a simulated
# GPU host (criu fault 138 forces cuda_plugin on; a stand-in cuda-checkpoint
# says "no CUDA in this process").  CRIU calls each hook in directory order and
# stops at the first plugin returning anything but -ENOTSUP; cuda_plugin
# returns 0 here.
#  - cpuport listed first: both run, the restore is re-patched.
#  - cuda_plugin listed first: cpuport's dump hook is hidden; cpuport warns at
#    dump (naming it) and refuses the restore (no image) instead of resuming
#    stale code.  Listed first, cpuport does not warn.
. "$(dirname "$0")/../lib.sh"
require_criu
CUDA=/usr/local/src/cpuport/criu/plugins/cuda/cuda_plugin.so; [ -f "$CUDA" ] || CUDA=
[ -n "$CUDA" ] || skip "CRIU's cuda_plugin.so not built (scripts/setup.sh builds it)"

mkdir -p "$WORK/bin"
cat >"$WORK/bin/cuda-checkpoint" <<'SH'
#!/bin/sh
# stand-in for NVIDIA's tool: supports --action, finds no CUDA state
case "$1" in -h) echo "usage: cuda-checkpoint --action lock|checkpoint|restore|unlock"; exit 0 ;; esac
exit 1
SH
chmod +x "$WORK/bin/cuda-checkpoint"
export PATH=$WORK/bin:$PATH CRIU_FAULT=138

for order in cpuport-first cuda-first; do
	dir=$WORK/plugins-$order
	mkdir -p "$dir"
	mount -t tmpfs cpuport-test "$dir" || skip "cannot mount tmpfs (needed to control readdir order)"
	# tmpfs lists the newest entry first
	if [ $order = cpuport-first ]; then
		cp "$CUDA" "$dir/"; cp "$PLUGIN_DIR/cpuport_plugin.so" "$dir/"
	else
		cp "$PLUGIN_DIR/cpuport_plugin.so" "$dir/"; cp "$CUDA" "$dir/"
	fi
	info "$order: plugin dir lists $(ls -f "$dir" | grep '\.so$' | tr '\n' ' ')"
	out=$WORK/$order.out img=$WORK/img-$order
	start_workload "$FIX/workload" "$out"
	PLUGIN_DIR=$dir dump "$PID" "$img"
	grep -q 'cuda_plugin: initialized' "$img/dump.log" || die "cuda_plugin was not active"
	if [ $order = cpuport-first ]; then
		! grep -q 'plugins listed before cpuport' "$img/dump.log" || die "warning although cpuport comes first"
		ls "$img"/cpuport-*.img >/dev/null || die "no cpuport image although cpuport came first"
		CPUPORT_TARGET=x86-64-v2 PLUGIN_DIR=$dir restore "$img" || die "restore failed"
		grep -q 'cpuport: pid .* re-patched' "$img/restore.log" || die "not re-patched"
		check_running "$out" "$PID"
		kill -9 "$PID"
	else
		grep -q 'plugins listed before cpuport in .*(cuda_plugin.so)' "$img/dump.log" ||
			die "no warning about the plugin listed first"
		! ls "$img"/cpuport-*.img >/dev/null 2>&1 || die "expected cuda_plugin to hide cpuport's dump hook"
		if "$CRIU" restore -D "$img" -L "$dir" -d -v4 -o restore.log; then
			die "restore succeeded without cpuport images: stale variants resumed"
		fi
		grep -q 'holds no cpuport image' "$img/restore.log" || die "no clear refusal"
		info "cuda-first: refused: $(grep -m1 'holds no cpuport image' "$img/restore.log" | sed 's/^.*cpuport: //' | cut -c1-120)..."
	fi
	umount "$dir"
done

# Dumped where cpuport comes first, restored where cuda_plugin comes first (issue 13, defect 12):
# cuda_plugin would take RESUME_DEVICES_LATE for every process and cpuport could only complain
# in fini, after the processes resumed. cpuport refuses the restore in init, before any process
# exists, naming the plugin.
for order in cpuport-first cuda-first; do
	dir=$WORK/plugins2-$order
	mkdir -p "$dir"
	mount -t tmpfs cpuport-test "$dir" || skip "cannot mount tmpfs"
	if [ $order = cpuport-first ]; then
		cp "$CUDA" "$dir/"; cp "$PLUGIN_DIR/cpuport_plugin.so" "$dir/"
	else
		cp "$PLUGIN_DIR/cpuport_plugin.so" "$dir/"; cp "$CUDA" "$dir/"
	fi
done
out=$WORK/mixed.out img=$WORK/img-mixed
start_workload "$FIX/workload" "$out"
PLUGIN_DIR=$WORK/plugins2-cpuport-first dump "$PID" "$img"
ls "$img"/cpuport-*.img >/dev/null || die "no cpuport image although cpuport came first"
rc=0
"$CRIU" restore -D "$img" -L "$WORK/plugins2-cuda-first" -d -v4 -o restore.log --pidfile "$img/p" || rc=$?
[ "$rc" -ne 0 ] || die "restore with cuda_plugin listed first succeeded: cpuport's hook could be hidden"
grep -q '(cuda_plugin.so) have a restore hook that CRIU calls first' "$img/restore.log" ||
	{ grep cpuport "$img/restore.log" | tail -5; die "no clear refusal naming cuda_plugin.so"; }
! grep -q 'never reached cpuport' "$img/restore.log" || die "processes resumed before the refusal"
if [ -f "$img/p" ]; then ! alive "$(cat "$img/p")" || die "the process runs"; fi
info "mixed order: refused up front: $(grep -m1 'have a restore hook' "$img/restore.log" | sed 's/^.*cpuport: //' | cut -c1-110)..."
# the same image restores where cpuport comes first
wait_gone "$PID"
PLUGIN_DIR=$WORK/plugins2-cpuport-first restore "$img" || die "restore with cpuport first failed"
grep -q 'cpuport: pid .* re-patched' "$img/restore.log" || die "not re-patched"
check_running "$out" "$PID"
umount "$WORK/plugins2-cpuport-first" "$WORK/plugins2-cuda-first"

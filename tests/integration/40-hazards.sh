#!/bin/bash
# Refusals: each hazard makes the plugin kill the restored process with a clear
# message in criu's log, and criu restore fails; nothing runs on half-patched.
#  1. a thread stopped inside an AVX2 clone, restored as on x86-64-v2
#  2. a missing cpuport image   3. a corrupt cpuport image
#  4. a library rebuilt (same size, other build-id) since the dump
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs an AVX2 host for the AVX2 clone"

expect_refusal() {	# expect_refusal IMG PATTERN [env...] [-- criu options]
	local img=$1 pat=$2 envs=() opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift && opts=("$@")
	if env "${envs[@]}" "$CRIU" restore -D "$img" -L "$PLUGIN_DIR" -d -v4 -o restore.log --pidfile "$img/p" \
		"${opts[@]}"; then
		sleep 0.3
		[ -f "$img/p" ] && alive "$(cat "$img/p")" &&
			die "restored process is running although cpuport refused"
	fi
	grep -Eq "$pat" "$img/restore.log" || { tail -n 20 "$img/restore.log"; die "no '$pat' in restore.log"; }
	info "refused: $(grep -Em1 "$pat" "$img/restore.log" | sed 's/^.*cpuport: //')"
	if [ -f "$img/p" ]; then
		sleep 0.2
		! alive "$(cat "$img/p")" || die "refused process still alive"
		wait_gone "$(cat "$img/p")"	# its pid must be free for the next restore
	fi
}

# 1. thread inside spin_kernel.avx2
out=$WORK/spin.out
start_workload "$FIX/workload" "$out" spin
sleep 0.2
dump "$PID" "$WORK/spin"
"$CPUPORT" show --json "$WORK/spin" | grep 'spin_kernel.avx2' >/dev/null || die "dump did not see the thread in spin_kernel.avx2"
expect_refusal "$WORK/spin" 'thread [0-9]+ stopped inside spin_kernel\.avx2.*needs .*avx' CPUPORT_TARGET=x86-64-v2
"$CPUPORT" check --target x86-64-v2 "$WORK/spin" >/dev/null 2>&1 && die "cpuport check should predict the refusal"
# the same image restores fine where AVX2 stays available
restore "$WORK/spin" || die "restore on the host itself failed"
check_running "$out" "$PID"
kill -9 "$PID"

# 1b. the same as the init of its own pid namespace (a container's shape): the
# refusal must not leave criu waiting for a thread only it can reap
out=$WORK/spin-ns.out
unshare --pid --fork setsid "$FIX/workload" "$out" spin </dev/null >/dev/null 2>&1 &
disown
wait_lines "$out" 3
root=$(pgrep -f "^$FIX/workload $out" | while read -r p; do
	if grep -q "NSpid:.*[[:space:]]1$" "/proc/$p/status"; then echo "$p"; fi; done | sed -n 1p)
[ -n "$root" ] || die "no pid-namespace init"
PIDS+=("$root")
sleep 0.2
dump "$root" "$WORK/spin-ns"
rc=0
timeout 60 env CPUPORT_TARGET=x86-64-v2 "$CRIU" restore -D "$WORK/spin-ns" -L "$PLUGIN_DIR" -d -v4 \
	-o restore.log || rc=$?
[ $rc -ne 124 ] || die "criu restore hung after cpuport refused (multi-threaded pid-namespace init)"
[ $rc -ne 0 ] || die "restore of a thread inside spin_kernel.avx2 succeeded as x86-64-v2"
grep -q 'stopped inside spin_kernel\.avx2' "$WORK/spin-ns/restore.log" || die "no refusal message"
info "pid-namespace init refused, criu exited: $(grep -m1 'Restoring FAILED' "$WORK/spin-ns/restore.log" | sed 's/^.*Error/Error/')"

# 1c. a library that dispatches on its own CPUID copy (OpenSSL's libcrypto, via
# python's hashlib): refused on a CPU with fewer features (its providers reach
# AES-NI/AVX code through tables the census cannot tie to a capability check),
# fine on the same one
if "$PY" -c 'import _hashlib' 2>/dev/null; then
	cat >"$WORK/h.py" <<'PYSRC'
import hashlib, sys, time
out = sys.argv[1]
i = 0
while True:
    d = hashlib.sha256(str(i).encode()).hexdigest()
    with open(out, "a") as f:
        f.write("iter=%d %s ok\n" % (i, d[:8]))
    i += 1
    time.sleep(0.05)
PYSRC
	setsid "$PY" "$WORK/h.py" "$WORK/h.out" </dev/null >/dev/null 2>&1 &
	PID=$!
	disown
	PIDS+=("$PID")
	wait_lines "$WORK/h.out" 3
	grep -q libcrypto "/proc/$PID/maps" || die "python's hashlib did not map libcrypto"
	dump "$PID" "$WORK/openssl"
	# decided by the ISA census of libcrypto's code, not by its name
	expect_refusal "$WORK/openssl" 'libcrypto\.so.* chooses its own code \(self-dispatched.*needs [a-z0-9_]+ \(instruction' CPUPORT_TARGET=x86-64-v2
	restore "$WORK/openssl" || die "same-CPU restore of the hashlib process failed"
	check_running "$WORK/h.out" "$PID"
	kill -9 "$PID"
else
	info "python3 has no _hashlib: OpenSSL case not run"
fi

# 2 + 3: missing / corrupt image (a second copy of a plain dump)
out=$WORK/w.out
start_workload "$FIX/workload" "$out"
dump "$PID" "$WORK/base"
cp -a "$WORK/base" "$WORK/missing"
rm "$WORK/missing"/cpuport-*.img
cp "$WORK/base"/cpuport-*.img "$WORK/base/keep.img"
mkdir "$WORK/missing/x" && cp "$WORK/base/keep.img" "$WORK/missing/cpuport-999999.img"
expect_refusal "$WORK/missing" 'no cpuport image for this process'
cp -a "$WORK/base" "$WORK/corrupt"
f=$(ls "$WORK/corrupt"/cpuport-*.img | sed -n 1p)
head -c 100 "$f" >"$f.t" && mv "$f.t" "$f"
expect_refusal "$WORK/corrupt" 'cpuport image is corrupt or truncated'

# 4. libclones.so rebuilt with other content, same size (same-length paths: a/ and b/)
lib=$WORK/lib
mkdir -p "$lib" "$WORK/a" "$WORK/b"
cp "$TOP/tests/fixtures/clones_lib.c" "$WORK/a/clones_lib.c"
sed 's/1099511628211UL/1099511628213UL/' "$TOP/tests/fixtures/clones_lib.c" >"$WORK/b/clones_lib.c"
for v in a b; do (cd "$WORK/$v" && cc -O2 -g -fno-builtin -fPIC -shared -o libclones.so clones_lib.c); done
[ "$(stat -c %s "$WORK/a/libclones.so")" = "$(stat -c %s "$WORK/b/libclones.so")" ] ||
	die "the two library builds differ in size; criu itself would refuse, not cpuport"
cp "$WORK/a/libclones.so" "$lib/"
cc -O2 -fno-builtin -o "$WORK/wl" "$TOP/tests/fixtures/workload.c" -L"$lib" -lclones -Wl,-rpath,"$lib" -lm -lpthread -ldl
start_workload "$WORK/wl" "$WORK/wl.out"
dump "$PID" "$WORK/stale"
cp "$WORK/b/libclones.so" "$lib/libclones.so"
# criu 4.1 compares build-ids itself by default; with size-only validation cpuport must catch it
expect_refusal "$WORK/stale" 'File .*libclones\.so has bad build-ID'
wait_gone "$PID" 2>/dev/null || true
expect_refusal "$WORK/stale" 'libclones\.so changed since the dump \(build-id' -- --file-validation=filesize

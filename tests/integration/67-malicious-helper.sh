#!/bin/bash
# A selection helper that lies or misbehaves never gets a process resumed (issue 13: defects 1, 3,
# 9 and the answer checks). Each case is a stand-in helper (a real ELF program, set through
# CPUPORT_HELPER, run by the process's own ld.so like the real one) that answers the real request
# of a real `criu restore`:
#   outside-index  every answer names object 99999 (out of range) - must not crash criu
#   huge-index     answer numbers and object indices near 2^32
#   long-line      a 64 MiB line without a newline - must not grow criu without bound
#   no-read        never reads its request, never answers (the request write must not block)
#   closed-hang    closes its answer pipe at once and never exits (the wait must have a deadline)
#   fork-sleep     forks a child that keeps the answer pipe open and sleeps; the helper exits
#   garbage        unknown words, malformed numbers, binary bytes, then "done"
#   tramp-data     the real helper, reporting a lazy-binding trampoline that is not ld.so's code
#   state-bad      the real helper, its ld.so cpu_features bytes with a CPUID word changed (must
#                  decode as glibc's structure and agree with this CPU: cpu_features_check.c)
#   resolver-self  answers each resolver call with the resolver's own address: code, but not a
#                  variant that resolver can return (answer_check.c: the resolver's variant set)
# Every case: criu restore exits non-zero within the time limit (+ slack), the plugin kills the
# restored process, it is gone, and nothing the stand-in started is left running.
. "$(dirname "$0")/../lib.sh"
require_criu

TIMEOUT_MS=3000
out=$WORK/w.out
start_workload "$FIX/workload" "$out"
dump "$PID" "$WORK/base"

mkdir -p "$WORK/helpers"
cat >"$WORK/helpers/standin.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char line[4096];
	unsigned n, obj;
	unsigned long long off;

	/* answers go to the fd the library names (stdout is /dev/null) */
	FILE *out = fdopen(atoi(getenv("CPUPORT_SELECT_ANSWER_FD")), "w");

#if MODE_NO_READ
	for (;;)
		pause();
#endif
#if MODE_CLOSED_HANG
	fclose(out);	/* EOF for cpuport, which then waits for the exit */
	for (;;)
		pause();
#endif
	setvbuf(out, NULL, _IOFBF, 1 << 16);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "go", 2))
			break;
#if MODE_OUTSIDE_INDEX
		if (sscanf(line, "call %u %u %llu", &n, &obj, &off) == 3)
			fprintf(out, "res %u 99999 16\n", n);
		else if (sscanf(line, "ptr %u %u %llu", &n, &obj, &off) == 3)
			fprintf(out, "ptr %u 99999 16\n", n);
		else if (sscanf(line, "read %u %u %llu", &n, &obj, &off) == 3)
			fprintf(out, "bytes %u 00\n", n);
#elif MODE_HUGE_INDEX
		if (sscanf(line, "call %u %u %llu", &n, &obj, &off) == 3)
			fprintf(out, "res 4294967295 4294967295 18446744073709551615\nres %u 2147483648 0\n", n);
		else if (sscanf(line, "ptr %u %u %llu", &n, &obj, &off) == 3)
			fprintf(out, "ptr %u 4294967294 8\n", n);
#endif
	}
#if MODE_LONG_LINE
	{
		static char junk[1 << 20];

		memset(junk, 'a', sizeof(junk));
		for (int i = 0; i < 64; i++)
			fwrite(junk, 1, sizeof(junk), out);
	}
#elif MODE_FORK_SLEEP
	fflush(out);
	pid_t c = fork();

	if (c == 0) {
		for (;;)
			pause();
	}
	FILE *f = fopen(PIDFILE, "w");	/* for the test: what must be killed */

	if (f)
		fprintf(f, "%d\n", (int)c), fclose(f);
	fprintf(out, "glibc 2.36\n");
#elif MODE_GARBAGE
	fprintf(out, "res\nres x y z\nbytes 4294967295 zz\nbytes 0 zq\ncpu_features -1 -1\ntrampoline 99999 1\n"
	       "\x01\x02\xff res 0 0 0\nptr 0 9999999999999999999999\n");
#endif
	fprintf(out, "done\n");
	fflush(out);
	return 0;
}
EOF
modes="outside-index huge-index long-line no-read closed-hang fork-sleep garbage"
for m in $modes; do
	def=MODE_$(echo "$m" | tr a-z- A-Z_)
	cc -O1 -D"$def"=1 -DPIDFILE="\"$WORK/forked.pid\"" -o "$WORK/helpers/$m" "$WORK/helpers/standin.c" || die "cannot build stand-in $m"
done
# the real helper, except that it answers each resolver call with the resolver itself
sed 's/sig = call_resolver(objs\[m->obj\].base + m->arg\[0\], &res);/sig = 0; res = objs[m->obj].base + m->arg[0];/' \
	"$TOP/resolver/select_helper.c" >"$WORK/helpers/resolver-self.c"
grep -q 'res = objs\[m->obj\].base + m->arg\[0\];' "$WORK/helpers/resolver-self.c" ||
	die "cannot derive the lying helper"
cc -O1 -I"$TOP/resolver" -Wl,-z,lazy -o "$WORK/helpers/resolver-self" "$WORK/helpers/resolver-self.c" \
	"$TOP/resolver/selproto.c" || die "cannot build the lying helper"
modes="$modes resolver-self"
# the real helper, except that the ld.so cpu_features it reports claim AVX2 flipped in CPUID 7 ebx
sed 's/selp_put_bytes(ans, m->n, (const uint8_t \*)(objs\[m->obj\].base + m->arg\[0\]), m->arg\[1\]);/{ uint8_t b[SELP_MAX_READ]; memcpy(b, (const uint8_t *)(objs[m->obj].base + m->arg[0]), m->arg[1]); if (m->arg[1] >= 300) b[56] ^= 0x20; selp_put_bytes(ans, m->n, b, m->arg[1]); }/' \
	"$TOP/resolver/select_helper.c" >"$WORK/helpers/state-bad.c"
grep -q 'b\[56\] ^= 0x20' "$WORK/helpers/state-bad.c" || die "cannot derive the state-lying helper"
cc -O1 -I"$TOP/resolver" -Wl,-z,lazy -o "$WORK/helpers/state-bad" "$WORK/helpers/state-bad.c" \
	"$TOP/resolver/selproto.c" || die "cannot build the state-lying helper"
modes="$modes state-bad"
# the real helper, except that its lazy-binding trampoline is 256 KiB further on (not ld.so's code)
sed 's/selp_put_rtld(ans, "trampoline", oi, off);/selp_put_rtld(ans, "trampoline", oi, off + 0x40000);/' \
	"$TOP/resolver/select_helper.c" >"$WORK/helpers/tramp-data.c"
grep -q 'off + 0x40000' "$WORK/helpers/tramp-data.c" || die "cannot derive the trampoline-lying helper"
cc -O1 -I"$TOP/resolver" -Wl,-z,lazy -o "$WORK/helpers/tramp-data" "$WORK/helpers/tramp-data.c" \
	"$TOP/resolver/selproto.c" || die "cannot build the trampoline-lying helper"
modes="$modes tramp-data"

failures=0
for m in $modes; do
	img=$WORK/img-$m rc=0
	wait_gone "$PID"	# the previous case's restored (and killed) process
	cp -a "$WORK/base" "$img"
	t0=${EPOCHREALTIME/./}
	CPUPORT_HELPER=$WORK/helpers/$m CPUPORT_TIMEOUT_MS=$TIMEOUT_MS \
		timeout 60 "$CRIU" restore -D "$img" -L "$PLUGIN_DIR" -d -v4 -o restore.log --pidfile "$img/p" || rc=$?
	el=$(((${EPOCHREALTIME/./} - t0) / 1000))
	problem=
	if [ "$rc" -eq 0 ]; then
		problem="criu restore reported success"
	elif [ "$rc" -eq 124 ]; then
		problem="criu restore hung (killed after 60 s)"
	elif [ "$rc" -gt 128 ]; then
		problem="criu died of signal $((rc - 128))"
	elif ! grep -q 'killing the restored process' "$img/restore.log"; then
		problem="the plugin did not refuse: $(grep -m1 -i 'error' "$img/restore.log")"
	elif [ "$el" -gt $((TIMEOUT_MS + 5000)) ]; then
		problem="took $el ms, over the $TIMEOUT_MS ms limit"
	fi
	# SIGKILLed before criu returned, but its exit may still be under way: give it 2 s to be
	# gone (a kill is final: it runs no more user code), and count only the workload itself
	# (not a new process that got the pid back)
	if [ -f "$img/p" ] && ! gone_within "$(cat "$img/p")" 2 "$FIX/workload"; then
		problem="${problem:+$problem; }the restored process is running"
		kill -9 "$(cat "$img/p")" 2>/dev/null || true
	fi
	sleep 0.2
	if [ "$m" = fork-sleep ]; then
		[ -s "$WORK/forked.pid" ] || problem="${problem:+$problem; }the stand-in did not fork"
		if [ -s "$WORK/forked.pid" ] && alive "$(cat "$WORK/forked.pid")"; then
			problem="${problem:+$problem; }the stand-in's child $(cat "$WORK/forked.pid") is still running"
			kill -9 "$(cat "$WORK/forked.pid")" || true
		fi
	fi
	if [ -n "$problem" ]; then
		echo "FAIL $m: $problem" >&2
		tail -n 8 "$img/restore.log" | sed 's/^/    /' >&2
		failures=$((failures + 1))
		continue
	fi
	info "$m: refused in $el ms: $(grep -Em1 'Error.*cpuport: ' "$img/restore.log" | sed 's/^.*cpuport: //')"
done
[ "$failures" -eq 0 ] || die "$failures stand-in helpers were not refused cleanly"

# the real helper, same image: the restore works
wait_gone "$PID"
restore "$WORK/base" || die "clean restore failed"
check_running "$out" "$PID"

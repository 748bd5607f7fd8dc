#!/bin/bash
# A process whose objects live in more than 300 distinct directories restores and is re-selected
# (issue 13, defect 13: the helper's --library-path stopped after ~220 directories; it is now
# deduplicated and unbounded).
#
# The program dlopen()s 320 small libraries, each from its own directory, and then libtop.so (a
# target_clones function top_fn, vectorized so each clone uses its own ISA, called through
# libtop's own PLT slot by top_call), which needs libdep.so from its directory.  Neither has an
# RPATH/RUNPATH: the process found libdep.so through LD_LIBRARY_PATH, the helper finds it only
# through its library path, where libtop's directory comes after the 320 others (link-map order).
# Restored as x86-64-v2, the helper must load libtop.so (and so libdep.so) to re-run top_fn's
# resolver; the AVX2/AVX-512 clone the host bound cannot run there (capstone), so the slot must
# move, and the process keeps computing correctly.
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs AVX2 on the host to see a downgrade"
command -v cc >/dev/null || skip "needs a C compiler"

N=320
mkdir -p "$WORK/top" "$WORK/pads"
cat >"$WORK/dep.c" <<'EOF'
unsigned long dep_mix(unsigned long x) { return x * 2654435761UL + 7; }
EOF
cat >"$WORK/top.c" <<'EOF'
#include <stddef.h>
unsigned long dep_mix(unsigned long x);
__attribute__((target_clones("avx512f", "avx2", "default")))
unsigned long top_fn(const unsigned char *p, size_t n)
{
	unsigned long s = 0;

	for (size_t i = 0; i < n; i++)
		s += (unsigned long)(p[i] >> 3) * (p[i] & 7);
	return dep_mix(s);
}

unsigned long top_call(const unsigned char *p, size_t n)
{
	return top_fn(p, n);	/* through libtop's PLT: its own slot for top_fn */
}
EOF
cat >"$WORK/pad.c" <<'EOF'
int pad_fn(void) { return 1; }
EOF
cat >"$WORK/prog.c" <<'EOF'
/* prog OUT PADS N LIBTOP: dlopen PADS/d<i>/libpad.so (i < N), then LIBTOP; every 100 ms append
 * "iter=K libs=L ok|BAD" to OUT: top_call against a plain computation */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static unsigned char buf[4096];
int main(int argc, char **argv)
{
	unsigned long (*top_call)(const unsigned char *, size_t);
	int n = argc > 4 ? atoi(argv[3]) : 0, libs = 0;
	char path[4096];
	void *h;

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/d%03d/libpad.so", argv[2], i);
		libs += dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL;
	}
	h = argc > 4 ? dlopen(argv[4], RTLD_NOW | RTLD_LOCAL) : NULL;	/* after the pads: last in the link map */
	top_call = h ? (unsigned long (*)(const unsigned char *, size_t))dlsym(h, "top_call") : NULL;
	if (!top_call)
		return 1;
	for (unsigned long iter = 0;; iter++) {
		unsigned long ref = 0;
		FILE *f;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)(i * 131 + iter * 7);
		for (volatile size_t i = 0; i < sizeof(buf); i++)	/* plain, not vectorized */
			ref += (unsigned long)(buf[i] >> 3) * (buf[i] & 7);
		ref = ref * 2654435761UL + 7;	/* libdep's dep_mix */
		f = fopen(argv[1], "a");
		if (!f)
			return 1;
		fprintf(f, "iter=%lu libs=%d %s\n", iter, libs, top_call(buf, sizeof(buf)) == ref ? "ok" : "BAD");
		fclose(f);
		usleep(100000);
	}
}
EOF
cc -O2 -fPIC -shared -o "$WORK/top/libdep.so" "$WORK/dep.c"
cc -O3 -fPIC -shared -o "$WORK/top/libtop.so" "$WORK/top.c" -L"$WORK/top" -ldep
cc -O2 -fPIC -shared -o "$WORK/libpad.so" "$WORK/pad.c"
cc -O2 -o "$WORK/prog" "$WORK/prog.c" -ldl
for i in $(seq 0 $((N - 1))); do
	d=$WORK/pads/d$(printf %03d "$i")
	mkdir "$d"
	cp "$WORK/libpad.so" "$d/"	# copies (own inodes): each one is its own object
done
readelf -d "$WORK/top/libtop.so" >"$WORK/top.dyn"
grep -E 'RPATH|RUNPATH' "$WORK/top.dyn" >/dev/null && die "libtop.so must have no RPATH/RUNPATH"

out=$WORK/p.out
LD_LIBRARY_PATH=$WORK/top start_workload "$WORK/prog" "$out" "$WORK/pads" "$N" "$WORK/top/libtop.so"
grep "libs=$N ok\$" "$out" >/dev/null || die "not all $N libraries loaded: $(tail -n1 "$out")"
dirs=$(awk '$6 ~ /^\// {n = $6; sub(/\/[^\/]*$/, "", n); print n}' "/proc/$PID/maps" | sort -u | wc -l)
[ "$dirs" -gt 300 ] || die "the process maps objects from only $dirs directories"
"$CPUPORT" scan --json "$PID" >"$WORK/before.json"
# libtop's directory comes after the pads' in the image's (link-map) order of objects
python3 - "$WORK/before.json" "$WORK/top/libtop.so" <<'PY' || die "libtop.so is not after 300 other directories in the image"
import json, os, sys
d = json.load(open(sys.argv[1])); d = d[0] if isinstance(d, list) else d
dirs = []
for o in d["objects"]:
    p = os.path.dirname(o["path"])
    if p not in dirs:
        dirs.append(p)
sys.exit(0 if dirs.index(os.path.dirname(sys.argv[2])) > 300 else 1)
PY
before=$(json_slot_target "$WORK/before.json" top_fn /libtop.so)
case $before in top_fn.avx2 | top_fn.avx512f) ;; *) die "top_fn bound to '$before' on this host (expected an AVX2/AVX-512 clone)" ;; esac
info "$N libraries in $dirs directories; top_fn bound to $before"

dump "$PID" "$WORK/img"
CPUPORT_TARGET=x86-64-v2 restore "$WORK/img" || die "restore as x86-64-v2 failed"
grep 'cpuport: pid .* re-patched' "$WORK/img/restore.log" >/dev/null || die "not re-patched"
check_running "$out" "$PID"
"$CPUPORT" scan --json "$PID" >"$WORK/after.json"
after=$(json_slot_target "$WORK/after.json" top_fn /libtop.so)
[ -n "$after" ] && [ "$after" != "$before" ] && [ "$after" != "(unbound)" ] ||
	die "top_fn not re-selected: '$before' before, '$after' after"
info "top_fn re-selected for x86-64-v2: $before -> $after"

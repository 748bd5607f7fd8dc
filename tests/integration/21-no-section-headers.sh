#!/bin/bash
# A library whose section headers are stripped (llvm-objcopy --strip-sections, sstrip) is recorded
# from its dynamic segment, as ld.so reads it (issue 13, defect 13; it used to be skipped silently,
# its IFUNC slots left on the source CPU's variants). The workload runs with such a copy of
# libclones.so (target_clones lib_kernel); the workload's slot for lib_kernel, whose resolver is in
# the stripped library, is recorded at dump, in the image, re-selected at restore (same CPU: same
# clone), and the process keeps computing correctly.
# (Not a simulated downgrade: libgcc's __cpu_model copy inside a library without .symtab cannot be
# located, so CPUPORT_TARGET cannot mask it for that library's resolvers; see README.)
. "$(dirname "$0")/../lib.sh"
require_criu
grep -qw avx2 /proc/cpuinfo || skip "needs AVX2 on the host to see a downgrade"

mkdir -p "$WORK/lib"
python3 - "$FIX/libclones.so" "$WORK/lib/libclones.so" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
# Elf64_Ehdr: e_shoff at 0x28 (8 bytes), e_shnum at 0x3c, e_shstrndx at 0x3e (2 bytes each)
b[0x28:0x30] = bytes(8); b[0x3c:0x40] = bytes(4)
open(sys.argv[2], "wb").write(b)
PY
chmod 755 "$WORK/lib/libclones.so"
readelf -S "$WORK/lib/libclones.so" 2>&1 | grep 'no sections' >/dev/null || die "the copy still has section headers"
out=$WORK/w.out
LD_LIBRARY_PATH=$WORK/lib start_workload "$FIX/workload" "$out"
grep -q "$WORK/lib/libclones.so" "/proc/$PID/maps" || die "the workload did not load the stripped copy"
"$CPUPORT" scan --json "$PID" >"$WORK/before.json"
slot() {	# slot JSON: "offset of lib_kernel's variant in libclones" for the workload's lib_kernel slot
	python3 - "$1" "$WORK/lib/libclones.so" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d = d[0] if isinstance(d, list) else d
objs = d["objects"]
for s in d["slots"]:
    if (s.get("symbol") or "").split("@")[0] == "lib_kernel" and s.get("target"):
        t = s["target"]
        assert objs[t["object"]]["path"] == sys.argv[2], objs[t["object"]]["path"]
        print(hex(t["offset"]))
        break
PY
}
before=$(slot "$WORK/before.json")
[ -n "$before" ] || die "the lib_kernel slot (defined in the stripped library) was not recorded"
dump "$PID" "$WORK/img"
"$CPUPORT" show --json "$WORK/img" >"$WORK/show.json"
[ "$(slot "$WORK/show.json")" = "$before" ] || die "the image does not record the lib_kernel slot"
# the restore matches the stripped library by build-id and re-runs its resolver in the helper
restore "$WORK/img" || die "restore failed"
grep -q 'cpuport: pid .* re-patched' "$WORK/img/restore.log" || die "not re-patched"
check_running "$out" "$PID"
"$CPUPORT" scan --json "$PID" >"$WORK/after.json"
after=$(slot "$WORK/after.json")
[ "$after" = "$before" ] || die "lib_kernel moved from $before to $after on the same CPU"
info "lib_kernel, defined in a library without section headers: recorded (clone at $before) and re-selected"

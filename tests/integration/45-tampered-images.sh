#!/bin/bash
# Crafted images: structurally valid cpuport images edited to aim writes
# elsewhere are refused before anything is written, because every slot and
# state is re-derived from the destination's own files, and a slot's recorded
# value (what the copied-pointer scan looks for) must be its variant's code
# and what the restored process holds.  Also: an image
# without ld.so's cpu_features (as from a glibc cpuport cannot refresh) is
# refused on another CPU and accepted on an identical one.
. "$(dirname "$0")/../lib.sh"
require_criu
command -v protoc >/dev/null || skip "protoc (protobuf-compiler) not installed"
"$PY" -c "import google.protobuf" 2>/dev/null || skip "python3-protobuf not installed"
protoc --python_out="$WORK" -I "$TOP/proto" "$TOP/proto/cpuport.proto"

out=$WORK/w.out
start_workload "$FIX/workload" "$out"
dump "$PID" "$WORK/base"

edit() {	# edit NAME PYTHON: copy the dump, apply PYTHON to the image message `m`
	local img=$WORK/$1 f
	cp -a "$WORK/base" "$img"
	f=$(ls "$img"/cpuport-*.img)
	PYTHONPATH=$WORK "$PY" - "$f" "$2" <<'PY'
import sys, cpuport_pb2 as pb
m = pb.image(); m.ParseFromString(open(sys.argv[1], "rb").read())
exec(sys.argv[2])
open(sys.argv[1], "wb").write(m.SerializeToString())
PY
}

refused() {	# refused NAME PATTERN [env...]
	local img=$WORK/$1 pat=$2
	shift 2
	if env "$@" "$CRIU" restore -D "$img" -L "$PLUGIN_DIR" -d -v4 -o restore.log --pidfile "$img/p"; then
		die "$img: restore of a crafted image succeeded"
	fi
	grep -Eq "$pat" "$img/restore.log" || { grep cpuport "$img/restore.log" | tail; die "no '$pat'"; }
	! grep -q 'cpuport: pid .*: wrote ' "$img/restore.log" || die "cpuport wrote into the process before refusing"
	info "$(basename "$img"): $(grep -Em1 "$pat" "$img/restore.log" | sed 's/^.*cpuport: //' | cut -c1-150)"
	[ -f "$img/p" ] && wait_gone "$(cat "$img/p")"
	return 0
}

# a slot moved by 8 bytes: still inside its object, but no relocation there
edit slot-moved 'm.slots[0].offset += 8'
refused slot-moved 'image names slot .* which that file does not have'
# an IRELATIVE slot with another resolver
edit resolver 'i = [s for s in m.slots if s.kind == pb.IRELATIVE][0]; i.resolver.offset += 16'
refused resolver 'which that file does not have'
# a slot's recorded value (which words the copied-pointer scan replaces) set to a data pattern
# (issue 13, defect 7): refused, nothing replaced
edit value 'b = [s for s in m.slots if s.bound and s.HasField("target")][0]; b.value = 0x4141414141414141'
refused value 'held 0x4141414141414141, which is not its recorded variant'"'"'s code'
# ...or to another code address than its recorded variant: refused as well
edit value-code 'b = [s for s in m.slots if s.bound and s.HasField("target")]; b[0].value = b[1].value if b[1].value != b[0].value else b[0].value + 16'
refused value-code 'which is not its recorded variant'"'"'s code or not what the process holds'
# libgcc's model moved onto the GOT
edit state-moved 'st = [s for s in m.states if s.name == "__cpu_model"][0]; st.offset = m.slots[0].offset'
refused state-moved 'image names __cpu_model at .* which that file does not have there'
# ld.so's cpu_features resized to spill into the next field
edit state-size 'st = [s for s in m.states if s.kind == pb.CPU_FEATURES][0]; st.size += 64; st.value = st.value + bytes(64)'
refused state-size 'image names cpu_features'
# no cpu_features state: refused on another CPU, fine on this one
edit no-features 'keep = [s for s in m.states if s.kind != pb.CPU_FEATURES]; del m.states[:]; m.states.extend(keep)'
refused no-features 'keeps its CPU features where cpuport does not know' CPUPORT_TARGET=x86-64-v2
restore "$WORK/no-features" || die "same-CPU restore without cpu_features state failed"
check_running "$out" "$PID"

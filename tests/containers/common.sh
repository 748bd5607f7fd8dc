# Helpers for the container-runtime tests (tests/integration/7*.sh); sourced after tests/lib.sh.
# Runtimes load cpuport the way a user's would: from criu's default plugin dir /usr/lib/criu,
# with the helper at its installed default path; so these tests work on `make install`ed files.

CT=$TOP/tests/containers
INSTALLED_PLUGIN=/usr/lib/criu/cpuport_plugin.so
INSTALLED_HELPER=/usr/local/libexec/cpuport/cpuport-select
CT_OPT=/opt/cpuport-test		# where mkrootfs.sh puts the workload inside the container
CT_MA=/usr/lib/x86_64-linux-gnu	# and the container's glibc

# pick_criu: CRIU = the absolute path of a criu >= 4.1.  Installing runc or podman with apt can
# bring Debian 12's criu 3.17 into /usr/sbin, which fails on this kernel; runtimes find criu on
# PATH, so never trust PATH order: prefer $CRIU, then /usr/local/sbin/criu (scripts/setup.sh).
criu_version_ok() {
	local v
	v=$("$1" --version 2>/dev/null | sed -n 's/^Version: //p')
	[ -n "$v" ] && [ "$(printf '%s\n4.1\n' "$v" | sort -V | sed -n 1p)" = 4.1 ]
}
pick_criu() {
	local c p
	for c in "$CRIU" /usr/local/sbin/criu; do
		p=$(command -v "$c" 2>/dev/null) || continue
		if criu_version_ok "$p"; then
			CRIU=$p
			return 0
		fi
	done
	return 0	# require_criu then says what is wrong
}

# require_netlock: criu locks a container's network namespace with iptables-restore (its default
# --network-lock), from PATH: without it every container checkpoint fails ("Locking network
# failed").  Podman pulls iptables in; runc alone does not.
require_netlock() {
	case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
	export PATH
	command -v iptables-restore >/dev/null ||
		skip "criu locks a container's network with iptables-restore: apt-get install iptables"
}

# require_installed: the installed plugin and helper are this build's (`make install`).  If they
# are missing or differ, install them (the tests run as root, and CI's scripts/setup.sh has done
# `make install` already); CPUPORT_TEST_NO_INSTALL=1 skips instead of installing.
require_installed() {
	local f stale=()
	[ -f "$TOP/build/plugin/cpuport_plugin.so" ] && [ -f "$TOP/build/bin/cpuport-select" ] ||
		skip "cpuport is not built: run make"
	cmp -s "$TOP/build/plugin/cpuport_plugin.so" "$INSTALLED_PLUGIN" || stale+=("$INSTALLED_PLUGIN")
	cmp -s "$TOP/build/bin/cpuport-select" "$INSTALLED_HELPER" || stale+=("$INSTALLED_HELPER")
	[ ${#stale[@]} -eq 0 ] && return 0
	[ -z "${CPUPORT_TEST_NO_INSTALL:-}" ] ||
		skip "runtimes load the installed plugin, and ${stale[*]} is missing or not this build: run make install"
	info "installing this build (make install): ${stale[*]} missing or older"
	make -C "$TOP" install >"$WORK/make-install.log" 2>&1 ||
		{ tail -n 20 "$WORK/make-install.log"; die "make install failed"; }
	for f in build/plugin/cpuport_plugin.so:$INSTALLED_PLUGIN build/bin/cpuport-select:$INSTALLED_HELPER; do
		cmp -s "$TOP/${f%%:*}" "${f#*:}" || die "make install did not install ${f#*:}"
	done
	for f in /usr/lib/criu/*.so; do
		[ "$f" = "$INSTALLED_PLUGIN" ] || info "note: another criu plugin is installed next to cpuport: $f"
	done
}

# make_rootfs ROOTFS [GLIBC_DIR]: see mkrootfs.sh
make_rootfs() {
	"$CT/mkrootfs.sh" "$@" >"$WORK/mkrootfs.log" 2>&1 ||
		{ cat "$WORK/mkrootfs.log"; die "could not build the container root file system"; }
}

# build_id FILE
build_id() {
	readelf -n "$1" | awk '/Build ID/ && id == "" { id = $3 } END { if (id != "") print id }'
}

# same_file_mapped PID PATH_IN_CONTAINER HOSTFILE: the object the process has mapped at that
# path (through /proc/PID/map_files) is HOSTFILE itself (same device and inode)
same_file_mapped() {
	local pid=$1 path=$2 file=$3 range
	range=$(awk -v p="$path" '$6 == p && $3 == "00000000" {print $1; exit}' "/proc/$pid/maps")
	[ -n "$range" ] || die "pid $pid has no mapping of $path"
	[ "$(stat -L -c %d:%i "/proc/$pid/map_files/$range")" = "$(stat -L -c %d:%i "$file")" ]
}

# check_objects SCAN_JSON: the objects cpuport sees are the container's, by their paths inside it
check_objects() {
	python3 - "$1" "$CT_OPT" "$CT_MA" <<'PY' || die "cpuport does not see the container's own objects"
import json, sys
d = json.load(open(sys.argv[1])); opt, ma = sys.argv[2], sys.argv[3]
paths = [o["path"] for o in d["objects"]]
print("objects:", " ".join(paths))
want = [opt + "/bin/workload", opt + "/lib/libclones.so", ma + "/libc.so.6", ma + "/libm.so.6",
        ma + "/ld-linux-x86-64.so.2"]
missing = [w for w in want if w not in paths]
if missing: print("missing:", missing)
sys.exit(1 if missing else 0)
PY
}

# bound_names SCAN_JSON [DEBUG_ROOT]: "symbol -> variant" for every bound slot.  Variant names come
# from cpuport (the host's /usr/lib/debug), else from DEBUG_ROOT/usr/lib/debug/.build-id (the
# container glibc's libc6-dbg, unpacked by fetch-glibc.sh), by the object's build-id.
bound_names() {
	python3 - "$1" "${2:-}" <<'PY'
import json, subprocess, sys, os
d = json.load(open(sys.argv[1])); dbg = sys.argv[2]
cache = {}
def debug_syms(obj):
    bid = obj.get("build_id", "")
    if bid not in cache:
        cache[bid] = {}
        f = os.path.join(dbg, "usr/lib/debug/.build-id", bid[:2], bid[2:] + ".debug")
        if dbg and bid and os.path.exists(f):
            for line in subprocess.run(["nm", "--defined-only", f], capture_output=True, text=True).stdout.splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in "tTiW":
                    cache[bid].setdefault(int(p[0], 16), p[2])
    return cache[bid]
for s in d["slots"]:
    t = s.get("target")
    if not s.get("bound") or not t:
        continue
    name = t.get("symbol") or debug_syms(d["objects"][t["object"]]).get(t["offset"], "?")
    sym = s.get("symbol") or s.get("resolver", {}).get("symbol") or "(IRELATIVE)"
    print(sym.split("@")[0], name, os.path.basename(d["objects"][s["object"]]["path"]))
PY
}

# check_no_variant_beyond NAMES_FILE TARGET: no bound variant needs more than TARGET has;
# every name must be known (an unnamed variant proves nothing)
check_no_variant_beyond() {
	python3 - "$1" "$2" <<'PY' || die "a slot is bound to a variant that $2 lacks (or cannot be named)"
import re, sys
bad = {"x86-64-v2": r"avx|evex|fma3?$|bmi|movbe", "haswell": r"avx512|evex"}[sys.argv[2]]
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
offenders = [r for r in rows if re.search(bad, r[1])]
unnamed = [r for r in rows if r[1] == "?"]
print("%d bound slots, offenders: %s, unnamed: %s" % (len(rows), offenders, unnamed))
sys.exit(1 if offenders or unnamed or not rows else 0)
PY
}

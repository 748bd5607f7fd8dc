#!/bin/bash
# cpuport set-up for a fresh Debian 12 (bookworm) machine, as root:
#   installs every dependency (Debian packages; CRIU 4.1.1 and libcpuid 0.7.1 built from
#   Debian trixie's source packages, because bookworm's criu 3.17 fails on kernels >= 6.x
#   with "Unexpected rt vDSO area bounds" and its libcpuid 0.6.2 misreads AVX-512 on AMD),
#   builds and installs cpuport, then runs the demo (scripts/demo.sh).
#
#   scripts/setup.sh [--no-demo] [--no-install]
#
# Idempotent: a second run checks, finds everything in place and only re-runs the demo.
# Safe to re-run after a failure at any step: downloads are checked against apt's SHA256 and
# fetched again when partial, sources unpack into a temporary directory renamed when complete,
# and criu is installed last, so an interrupted run is picked up where it stopped.
# Never upgrades the system's libc: trixie is added as a deb-src (source only) entry.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC=/usr/local/src/cpuport
DEMO=1 INSTALL=1
for a in "$@"; do
	case $a in
	--no-demo) DEMO=0 ;;
	--no-install) INSTALL=0 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "setup: unknown option $a" >&2; exit 2 ;;
	esac
done

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "setup: error: $*" >&2; exit 1; }
# For tests of a re-run after a failure (tests/fresh): CPUPORT_SETUP_FAIL_AFTER=NAME fails
# the run right after the named point, as an interrupted or failed run would.
checkpoint() { [ "${CPUPORT_SETUP_FAIL_AFTER:-}" != "$1" ] || fail "stopped after '$1' (CPUPORT_SETUP_FAIL_AFTER)"; }

# --- preconditions ---------------------------------------------------------
[ "$(id -u)" = 0 ] || fail "run as root (it installs packages and runs criu)"
command -v apt-get >/dev/null || fail "apt-get not found: this set-up is for Debian 12"
[ -r /etc/debian_version ] || fail "not a Debian system"
[ "$(uname -m)" = x86_64 ] || fail "cpuport is for x86-64 (this is $(uname -m))"
# CONFIG_CHECKPOINT_RESTORE gives map_files and ns_last_pid; criu cannot work without them
[ -d /proc/self/map_files ] && [ -e /proc/sys/kernel/ns_last_pid ] ||
	fail "this kernel lacks checkpoint/restore support (CONFIG_CHECKPOINT_RESTORE)"

PKGS=(
	# build
	build-essential pkg-config libelf-dev liblzma-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev
	libcapstone-dev cmake xz-utils
	# CRIU 4.1 build dependencies (all from bookworm)
	libprotobuf-dev protobuf-compiler python3-protobuf libnl-3-dev libnl-route-3-dev libnet1-dev
	libcap-dev libbsd-dev libgnutls28-dev libnftables-dev libaio-dev uuid-dev iproute2 kmod
	# tests: glibc variant names, QEMU guests with older CPUs, real programs as workloads
	libc6-dbg gdb binutils python3 qemu-system-x86 busybox-static cpio sqlite3 bc util-linux
	# the python-ssl workload's test certificate (openssl req)
	openssl
	# a JIT runtime for the ISA census tests (HotSpot: code in anonymous executable memory)
	openjdk-17-jre-headless
	# container runtimes (runc, Podman; criu locks a container's network with iptables)
	runc podman iptables
	# fuzzing (libFuzzer) and sanitizers; the benchmark's chart
	clang libclang-rt-14-dev gnuplot-nox
)

# --- Debian packages ---------------------------------------------------------
step "Debian packages"
missing=()
for p in "${PKGS[@]}"; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	apt-get update -qq || fail "apt-get update failed: is Debian's archive reachable?"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		|| fail "apt-get install failed"
else
	echo "all ${#PKGS[@]} packages present"
fi
checkpoint packages

# --- where Debian's archive is -------------------------------------------------------
# The mirror this machine's apt already uses for bookworm (never a hard-coded host).
# Pipelines here never end early (no `| head`, no `grep -q` on a pipe): under pipefail
# a writer killed by SIGPIPE would end the script with status 141 and no message.
debian_mirror() {
	local f uri
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources) uri=$(awk 'tolower($1) == "uris:" && !u { u = $2 } tolower($1) == "suites:" && u && / bookworm( |$)/ && !m { m = u }
			/^[[:space:]]*$/ { u = "" } END { print m }' "$f") ;;
		*) uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { if ($(i+1) == "bookworm" && !m) m = $i; break } } END { print m }' "$f") ;;
		esac
		[ -n "$uri" ] && { echo "${uri%/}"; return 0; }
	done
	fail "no 'bookworm' entry in apt's sources (/etc/apt/sources.list*): cannot tell where Debian's archive is"
}
MIRROR=$(debian_mirror)

# --- trixie source packages (never binaries) --------------------------------
TRIXIE_SRC=/etc/apt/sources.list.d/cpuport-trixie-src.sources
trixie_source() {	# trixie_source PKG: fetch and verify PKG's orig tarball into $SRC; print its path
	local pkg=$1 uris line file sum empty
	mkdir -p "$SRC"
	if [ ! -f "$TRIXIE_SRC" ] || ! grep "URIs: $MIRROR\$" "$TRIXIE_SRC" >/dev/null; then
		cat >"$TRIXIE_SRC.tmp" <<-SRC
		# added by cpuport's scripts/setup.sh: source packages only (CRIU 4.1, libcpuid 0.7)
		Types: deb-src
		URIs: $MIRROR
		Suites: trixie
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SRC
		mv "$TRIXIE_SRC.tmp" "$TRIXIE_SRC"
		apt-get update -qq || fail "apt-get update failed"
	fi
	# --print-uris in an empty directory: where a file is already downloaded apt prints
	# "Skipping already downloaded file ..." instead of its URI.
	empty=$(mktemp -d)
	uris=$(cd "$empty" && apt-get source --print-uris "$pkg/trixie" 2>/dev/null) || true
	if [[ $uris != *orig.tar* ]]; then
		apt-get update -qq || fail "apt-get update failed"
		uris=$(cd "$empty" && apt-get source --print-uris "$pkg/trixie") || true
	fi
	rmdir "$empty"
	line=$(awk '/orig\.tar/ && !l { l = $0 } END { print l }' <<<"$uris")
	[ -n "$line" ] || fail "no trixie source package for $pkg (apt-get source --print-uris $pkg/trixie)"
	file=$(awk '{print $2}' <<<"$line")
	sum=$(grep -o 'SHA256:[0-9a-f]*' <<<"$line" | cut -d: -f2) || true
	[ -n "$sum" ] || fail "$pkg: apt gave no SHA256 for $file"
	# A partial or corrupt tarball from an earlier, interrupted run is fetched again.
	if [ -f "$SRC/$file" ] && ! echo "$sum  $SRC/$file" | sha256sum -c --quiet - >/dev/null 2>&1; then
		rm -f "$SRC/$file"
	fi
	if [ ! -f "$SRC/$file" ]; then
		# only the orig tarball is needed (the .dsc fetch may fail where the tarball works)
		(cd "$SRC" && apt-get source --download-only "$pkg/trixie" >/dev/null 2>&1) || true
	fi
	[ -f "$SRC/$file" ] || fail "could not download $file from $MIRROR"
	echo "$sum  $SRC/$file" | sha256sum -c --quiet - || fail "$file: checksum mismatch"
	echo "$SRC/$file"
}
# unpack TARBALL NAME: unpack into $SRC/NAME (its top directory stripped) and print it.
# Unpacked into NAME.tmp and renamed, so an interrupted run never leaves half a tree.
unpack() {
	local tarball=$1 dir=$SRC/$2
	if [ ! -f "$dir/.unpacked" ] || [ "$(cat "$dir/.unpacked")" != "$(basename "$tarball")" ]; then
		rm -rf "$dir" "$dir.tmp" && mkdir -p "$dir.tmp"
		tar xf "$tarball" -C "$dir.tmp" --strip-components=1 || fail "cannot unpack $tarball"
		basename "$tarball" >"$dir.tmp/.unpacked"
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir"
}

# --- CRIU >= 4.1 -------------------------------------------------------------
criu_ok() {
	local v
	v=$(/usr/local/sbin/criu --version 2>/dev/null | sed -n 's/^Version: //p') || true
	[ -n "$v" ] && [ "$(printf '%s\n4.1\n' "$v" | sort -V | sed -n 1p)" = 4.1 ] &&
		[ -f /usr/local/include/criu/criu-plugin.h ]
}
CRIU_DIR=$SRC/criu
step "CRIU >= 4.1 (/usr/local/sbin/criu)"
if criu_ok; then
	echo "present: $(/usr/local/sbin/criu --version | sed -n 1p)"
else
	dir=$(unpack "$(trixie_source criu)" criu)
	checkpoint criu-source
	echo "building CRIU in $dir"
	make -C "$dir" -j"$(nproc)" criu >"$SRC/criu-build.log" 2>&1 ||
		{ tail -n 30 "$SRC/criu-build.log"; fail "CRIU build failed (log: $SRC/criu-build.log)"; }
	install -D -m 644 "$dir/criu/include/criu-plugin.h" /usr/local/include/criu/criu-plugin.h
	install -D -m 644 "$dir/criu/include/criu-log.h" /usr/local/include/criu/criu-log.h
	# the binary last: criu_ok() checks it, so a run cut short before here builds again
	install -D -m 755 "$dir/criu/criu" /usr/local/sbin/criu.tmp
	mv /usr/local/sbin/criu.tmp /usr/local/sbin/criu
	criu_ok || fail "installed criu does not report version >= 4.1"
fi
# CRIU's cuda plugin, only to test that cpuport lives next to it (tests/integration/75-*)
if [ ! -f "$CRIU_DIR/plugins/cuda/cuda_plugin.so" ]; then
	dir=$(unpack "$(trixie_source criu)" criu)
	make -C "$dir" -j"$(nproc)" cuda_plugin >>"$SRC/criu-build.log" 2>&1 ||
		fail "building CRIU's cuda plugin failed (log: $SRC/criu-build.log)"
fi
case ":$PATH:" in
*:/usr/local/sbin:*) ;;
*) echo "note: add /usr/local/sbin to PATH so that 'criu' is CRIU 4.1" ;;
esac
/usr/local/sbin/criu check >/dev/null 2>&1 || {
	/usr/local/sbin/criu check || true
	fail "'criu check' fails on this kernel: checkpoint/restore will not work here"
}
echo "criu check: Looks good."

# --- libcpuid >= 0.7 -------------------------------------------------------------
step "libcpuid >= 0.7.0 (/usr/local)"
if PKG_CONFIG_PATH=/usr/local/lib/pkgconfig pkg-config --exists 'libcpuid >= 0.7.0' &&
	[ -d "$SRC/libcpuid/tests" ]; then
	echo "present: $(PKG_CONFIG_PATH=/usr/local/lib/pkgconfig pkg-config --modversion libcpuid)"
else
	dir=$(unpack "$(trixie_source libcpuid)" libcpuid)
	checkpoint libcpuid-source
	rm -rf "$dir/build"
	cmake -S "$dir" -B "$dir/build" -DCMAKE_INSTALL_PREFIX=/usr/local -DCMAKE_BUILD_TYPE=Release \
		-DLIBCPUID_ENABLE_TESTS=OFF >"$SRC/libcpuid-build.log" 2>&1 &&
		make -C "$dir/build" -j"$(nproc)" install >>"$SRC/libcpuid-build.log" 2>&1 ||
		{ tail -n 30 "$SRC/libcpuid-build.log"; fail "libcpuid build failed"; }
	ldconfig
fi

# --- a second glibc (trixie's 2.41) for the "other glibc" test ----------------------
# Downloaded with a private apt configuration and unpacked into a directory:
# nothing from trixie is ever installed on the system.
step "trixie's glibc, unpacked (tests: a process on another glibc)"
CACHE=${CPUPORT_CACHE:-/var/cache/cpuport}
TROOT=$CACHE/trixie-root
if [ -x "$TROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ] && [ -d "$TROOT/usr/lib/debug/.build-id" ]; then
	echo "present: $TROOT"
else
	TAPT=$CACHE/trixie-apt
	mkdir -p "$TAPT/lists/partial" "$TAPT/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" \
		>"$TAPT/sources.list"
	APTP=(-o Dir::Etc::SourceList="$TAPT/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$TAPT/lists" -o Dir::Cache::Archives="$TAPT/archives"
		-o Dir::State::status=/dev/null)
	apt-get "${APTP[@]}" update -qq || fail "cannot read trixie's package index"
	rm -f "$TAPT"/archives/*.deb	# an older run's versions would make two matches below
	(cd "$TAPT/archives" && apt-get "${APTP[@]}" download libc6 libc6-dbg >/dev/null 2>&1) ||
		fail "cannot download trixie's libc6 and libc6-dbg"
	rm -rf "$TROOT" "$TROOT.tmp" && mkdir -p "$TROOT.tmp"
	dpkg -x "$TAPT"/archives/libc6_*.deb "$TROOT.tmp" &&
		dpkg -x "$TAPT"/archives/libc6-dbg_*.deb "$TROOT.tmp" && mv "$TROOT.tmp" "$TROOT"
	echo "unpacked: $TROOT"
fi

# --- guest kernel for the cross-CPU tests -------------------------------------
step "Debian kernel for QEMU guests (make e2e)"
"$TOP/tests/guest/build-kernel.sh" >/dev/null || fail "could not fetch the guest kernel"
echo "$("$TOP/tests/guest/build-kernel.sh" --version)"

# --- cpuport ---------------------------------------------------------------------
step "build cpuport"
make -C "$TOP" -j"$(nproc)" all fixtures >/dev/null || fail "build failed (run 'make' to see why)"
if [ "$INSTALL" = 1 ]; then
	make -C "$TOP" install >/dev/null || fail "make install failed"
	echo "installed: $(command -v cpuport || echo /usr/local/bin/cpuport), plugin in /usr/lib/criu/"
fi

if [ "$DEMO" = 1 ]; then
	step "demo"
	"$TOP/scripts/demo.sh"
fi

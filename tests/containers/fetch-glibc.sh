#!/bin/bash
# Fetch another Debian release's glibc for a container root file system, without installing
# anything on the host:
#
#   tests/containers/fetch-glibc.sh CACHE [SUITE]      (SUITE defaults to trixie)
#
# Downloads libc6 and libc6-dbg of SUITE with a private apt configuration (its own sources
# list, package lists and cache under CACHE; the host's apt state is not touched) and unpacks
# them with dpkg-deb -x into CACHE/libc and CACHE/dbg.  Prints the directory that holds
# ld-linux-x86-64.so.2, libc.so.6 and libm.so.6.  A second call finds them and does nothing.
# The archive is the one this machine's apt already uses for Debian (its bookworm or trixie
# entry).  Exit 1 with a message when it cannot be reached.
set -euo pipefail

CACHE=${1:?usage: fetch-glibc.sh CACHE [SUITE]}
SUITE=${2:-trixie}
LIBDIR=$CACHE/libc/usr/lib/x86_64-linux-gnu
die() { echo "fetch-glibc: $*" >&2; exit 1; }

if [ -f "$LIBDIR/libc.so.6" ] && [ -f "$CACHE/dbg.done" ]; then
	echo "$LIBDIR"
	exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs apt-get and dpkg-deb (Debian)"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || die "$KEYRING not found (debian-archive-keyring)"
# Debian's archive as this machine's apt knows it (not the security archive)
uri=$(apt-get indextargets --format '$(CODENAME) $(REPO_URI)' 2>/dev/null |
	awk '($1 == "'"$SUITE"'" || $1 == "bookworm") && $2 !~ /security/ && u == "" { u = $2 } END { print u }')
[ -n "$uri" ] || die "no Debian archive in this machine's apt sources"

rm -rf "$CACHE/apt" "$CACHE/debs" "$CACHE/libc" "$CACHE/dbg" "$CACHE/dbg.done"
mkdir -p "$CACHE"/apt/{lists/partial,cache/archives/partial,parts,prefs} "$CACHE/debs"
echo "deb [signed-by=$KEYRING] $uri $SUITE main" >"$CACHE/apt/sources.list"
APT=(-o Dir::Etc::SourceList="$CACHE/apt/sources.list" -o Dir::Etc::SourceParts="$CACHE/apt/parts"
	-o Dir::Etc::PreferencesParts="$CACHE/apt/prefs" -o Dir::State::Lists="$CACHE/apt/lists"
	-o Dir::Cache="$CACHE/apt/cache" -o APT::Sandbox::User=root -o Acquire::Languages=none
	-o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false -qq)
apt-get "${APT[@]}" update >"$CACHE/apt/update.log" 2>&1 ||
	{ cat "$CACHE/apt/update.log" >&2; die "apt-get update of $SUITE ($uri) failed"; }
(cd "$CACHE/debs" && apt-get "${APT[@]}" download "libc6/$SUITE" "libc6-dbg/$SUITE") >"$CACHE/apt/download.log" 2>&1 ||
	{ cat "$CACHE/apt/download.log" >&2; die "apt-get download of $SUITE's libc6 failed"; }
dpkg-deb -x "$CACHE"/debs/libc6_*.deb "$CACHE/libc"
dpkg-deb -x "$CACHE"/debs/libc6-dbg_*.deb "$CACHE/dbg"
rm -rf "$CACHE/apt/lists" "$CACHE/apt/cache" "$CACHE/debs"	# 40 MB not needed any more
[ -f "$LIBDIR/libc.so.6" ] || die "libc6 of $SUITE has no $LIBDIR/libc.so.6"
touch "$CACHE/dbg.done"
echo "$LIBDIR"

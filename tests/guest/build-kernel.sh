#!/bin/bash
# build-kernel.sh - fetch and unpack a Debian 12 kernel for the cpuport test guests.
#
# Usage: build-kernel.sh [--vmlinux | --modules-dir | --version | --root]
#   (no option)    print the path of the guest's vmlinuz (compressed bzImage)
#   --vmlinux      print the path of the uncompressed ELF kernel (…/boot/vmlinux-<KVER>, made
#                  from the bzImage here); QEMU boots it through its PVH entry point, which
#                  skips the ~3.5 s of XZ decompression under TCG. Falls back to the vmlinuz
#                  path if it could not be made (kernel without CONFIG_PVH, no xz).
#   --modules-dir  print the kernel's module directory (…/lib/modules/<KVER>)
#   --version      print the kernel release string (<KVER>, e.g. 6.1.0-56-amd64)
#   --root         print the directory the package was unpacked into
#
# The kernel package (linux-image-6.1.0-<N>-amd64 from Debian's archive, which has the
# modules the cloud flavour lacks) is fetched with `apt-get download` and unpacked with
# `dpkg -x` into ${CPUPORT_CACHE:-/var/cache/cpuport}/guest/kernel/<KVER>/. Nothing is
# installed on the host. A second run does no network access and takes milliseconds.
#
# Which kernel: $CPUPORT_GUEST_KERNEL (e.g. 6.1.0-56-amd64) if set; otherwise the kernel
# recorded in the cache by an earlier run (…/guest/kernel/current); otherwise the newest
# linux-image-6.1.0-<N>-amd64 that `apt-cache search` knows (run `apt-get update` first
# on a fresh machine).
set -eEuo pipefail

ME=build-kernel.sh
die() { echo "build-kernel.sh: error: $*" >&2; exit 1; }
trap 'echo "$ME: error: unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
log() { echo "build-kernel.sh: $*" >&2; }

what=vmlinuz
case "${1:-}" in
    "") ;;
    --vmlinux) what=vmlinux ;;
    --modules-dir) what=modules ;;
    --version) what=version ;;
    --root) what=root ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
esac

CACHE="${CPUPORT_CACHE:-/var/cache/cpuport}/guest"
KDIR="$CACHE/kernel"
mkdir -p "$KDIR" || die "cannot create cache dir $KDIR"

# Print the requested path for an unpacked kernel and exit.
emit() {
    local kver=$1 root="$KDIR/$1"
    case "$what" in
        vmlinuz) echo "$root/boot/vmlinuz-$kver" ;;
        vmlinux) if [[ -s "$root/boot/vmlinux-$kver" ]]; then echo "$root/boot/vmlinux-$kver"
                 else echo "$root/boot/vmlinuz-$kver"; fi ;;
        modules) echo "$root/lib/modules/$kver" ;;
        version) echo "$kver" ;;
        root) echo "$root" ;;
    esac
    exit 0
}

kver="${CPUPORT_GUEST_KERNEL:-}"
if [[ -z "$kver" && -s "$KDIR/current" ]]; then
    kver=$(<"$KDIR/current")
fi
# Fast path: already unpacked (and the PVH kernel made, or known to be impossible).
if [[ -n "$kver" && -e "$KDIR/$kver/.complete" && -e "$KDIR/$kver/.pvh-done" ]]; then
    emit "$kver"
fi

command -v apt-get >/dev/null || die "apt-get not found (this needs a Debian 12 host)"
command -v dpkg >/dev/null || die "dpkg not found"
command -v depmod >/dev/null || die "depmod not found: apt-get install kmod"

exec 9>"$KDIR/.lock"
flock 9
# A run killed while unpacking leaves its .tmp.* behind (its EXIT trap never ran); with the
# lock held, none is in use.
rm -rf "$KDIR"/.tmp.*

if [[ -z "$kver" ]]; then
    kver=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
        awk '{print $1}' | sed 's/^linux-image-//' | sort -V | tail -n1)
    [[ -n "$kver" ]] || die "no linux-image-6.1.0-<N>-amd64 package known to apt; run 'apt-get update' (Debian 12 bookworm sources needed) or set CPUPORT_GUEST_KERNEL"
    log "newest Debian kernel known to apt: $kver"
fi
[[ "$kver" =~ ^6\.1\.0-[0-9]+-amd64$ ]] || log "warning: CPUPORT_GUEST_KERNEL=$kver does not look like 6.1.0-<N>-amd64"

if [[ ! -e "$KDIR/$kver/.complete" ]]; then
    tmp=$(mktemp -d "$KDIR/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    pkg="linux-image-$kver"
    log "downloading $pkg (about 70 MB) ..."
    # apt-get download drops privileges to _apt when it can; let it write into $tmp.
    chmod 0777 "$tmp"
    ( cd "$tmp" && apt-get download -q "$pkg" >&2 ) ||
        die "apt-get download $pkg failed (is Debian's archive reachable? try apt-get update)"
    debs=("$tmp"/*.deb)
    [[ -f "${debs[0]}" ]] || die "apt-get download produced no .deb"
    deb=${debs[0]}
    log "unpacking $(basename "$deb") ..."
    mkdir "$tmp/root"
    dpkg -x "$deb" "$tmp/root" || die "dpkg -x $deb failed"
    [[ -f "$tmp/root/boot/vmlinuz-$kver" ]] || die "package has no boot/vmlinuz-$kver"
    [[ -d "$tmp/root/lib/modules/$kver" ]] || die "package has no lib/modules/$kver"
    # Debian generates modules.dep in postinst; do it here so modprobe -d works.
    depmod -b "$tmp/root" "$kver" || die "depmod failed"
    rm -rf "${KDIR:?}/$kver"
    mv "$tmp/root" "$KDIR/$kver"
    basename "$deb" > "$KDIR/$kver/.deb"
    touch "$KDIR/$kver/.complete"
    rm -rf "$tmp"
    trap - EXIT
    log "kernel $kver unpacked into $KDIR/$kver"
fi
# Uncompressed kernel for a direct PVH boot (QEMU loads an ELF kernel with a PVH note).
root="$KDIR/$kver"
if [[ ! -e "$root/.pvh-done" ]]; then
    rm -f "$root/boot/vmlinux-$kver"
    if ! grep -q '^CONFIG_PVH=y' "$root/boot/config-$kver" 2>/dev/null; then
        log "kernel has no CONFIG_PVH; guests will boot the bzImage"
    elif ! command -v xz >/dev/null; then
        log "warning: xz not found (apt-get install xz-utils); guests will boot the slower bzImage"
    else
        # (the first match's offset; awk reads all of grep's output, so grep never gets SIGPIPE)
        off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$root/boot/vmlinuz-$kver" | awk -F: 'o == "" { o = $1 } END { print o }' || true)
        # (xz stops at the end of the stream; tail may then get SIGPIPE, hence no pipe)
        if [[ -n "$off" ]] && xz -dc --single-stream > "$root/boot/vmlinux-$kver.tmp" 2>/dev/null \
                < <(tail -c "+$((off + 1))" "$root/boot/vmlinuz-$kver") &&
                [[ "$(head -c 4 "$root/boot/vmlinux-$kver.tmp")" == $'\x7fELF' ]]; then
            mv "$root/boot/vmlinux-$kver.tmp" "$root/boot/vmlinux-$kver"
        else
            rm -f "$root/boot/vmlinux-$kver.tmp"
            log "warning: could not extract an ELF kernel from vmlinuz (not XZ?); guests will boot the bzImage"
        fi
    fi
    touch "$root/.pvh-done"
fi
# Record the choice so later runs (and mkinitramfs.sh / run-guest.sh) agree on one kernel.
if [[ -z "${CPUPORT_GUEST_KERNEL:-}" ]]; then
    echo "$kver" > "$KDIR/current.tmp" && mv "$KDIR/current.tmp" "$KDIR/current"
fi
emit "$kver"

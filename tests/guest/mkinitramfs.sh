#!/bin/bash
# mkinitramfs.sh - build an initramfs for a cpuport test guest (see README.md).
#
# Usage: mkinitramfs.sh OUT.cpio[.gz] [options]
#   --payload PATH       file or directory copied to the IDENTICAL absolute path in the guest
#                        (repeatable). ELF files (the payload itself, or any ELF file inside a
#                        payload directory) also get their ldd dependencies at identical paths.
#   --script PATH        path IN THE GUEST of the shell script /init runs with `sh`
#                        (default /cpuport-guest-script). It must be part of a payload, or
#                        be given with --script-file.
#   --script-file FILE   host file installed as the guest script (at the --script path).
#   --module NAME        extra kernel module to insert at boot (repeatable; deps included).
#   --gzip               gzip the archive (also implied by an OUT name ending in .gz).
#   -h, --help
#
# Always included: busybox-static with all applet links, criu (${CPUPORT_CRIU:-/usr/local/sbin/criu})
# and every library ldd lists for it, the dynamic loader, the kernel modules CRIU needs
# (nf_tables & co, the *_diag modules, tun, veth) plus virtio_pci/virtio_blk for the output
# disk, all from the kernel chosen by build-kernel.sh, and an /init that sets the guest up,
# runs the script, prints `CPUPORT-GUEST-EXIT <rc>` and powers off.
#
# Prints the path of the archive on stdout. Exit codes: 0 ok, 1 error, 2 usage error.
set -eEuo pipefail

ME=mkinitramfs.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "$ME: error: $*" >&2; exit 1; }
trap 'echo "$ME: error: unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
usage() { echo "$ME: $*" >&2; echo "usage: $ME OUT.cpio[.gz] [--payload PATH]... [--script GUEST_PATH] [--script-file FILE] [--module NAME]... [--gzip]" >&2; exit 2; }

CRIU="${CPUPORT_CRIU:-/usr/local/sbin/criu}"
BUSYBOX="${CPUPORT_BUSYBOX:-/bin/busybox}"
# Order matters (verified in /work/shared/notes/heterogeneous-guest.md); deps are resolved with modprobe.
MODULES=(crc32c_generic libcrc32c nfnetlink nf_tables unix_diag netlink_diag af_packet_diag
         inet_diag tcp_diag udp_diag raw_diag tun veth virtio_pci virtio_blk)

out='' script=/cpuport-guest-script script_file='' gzip=0
payloads=()
while (($#)); do
    case "$1" in
        --payload) (($# >= 2)) || usage "--payload needs an argument"; payloads+=("$2"); shift 2 ;;
        --script) (($# >= 2)) || usage "--script needs an argument"; script=$2; shift 2 ;;
        --script-file) (($# >= 2)) || usage "--script-file needs an argument"; script_file=$2; shift 2 ;;
        --module) (($# >= 2)) || usage "--module needs an argument"; MODULES+=("$2"); shift 2 ;;
        --gzip) gzip=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) usage "unknown option '$1'" ;;
        *) [[ -z "$out" ]] || usage "more than one output file given ('$out', '$1')"; out=$1; shift ;;
    esac
done
[[ -n "$out" ]] || usage "no output file given"
[[ "$out" == *.gz ]] && gzip=1
[[ "$script" == /* ]] || usage "--script must be an absolute path in the guest"
[[ "$script" != *"'"* ]] || usage "--script path must not contain a single quote"
[[ $EUID -eq 0 ]] || die "must run as root (copies root-only files, creates /dev/console)"
[[ -x "$CRIU" ]] || die "criu not found at $CRIU (set CPUPORT_CRIU)"
[[ -x "$BUSYBOX" ]] || die "busybox not found at $BUSYBOX: apt-get install busybox-static"
if LC_ALL=C ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is dynamically linked; install busybox-static (not busybox)"
fi
for t in cpio ldd modprobe; do command -v "$t" >/dev/null || die "'$t' not found (packages: cpio libc-bin kmod)"; done
[[ -z "$script_file" || -f "$script_file" ]] || die "--script-file $script_file: no such file"
for p in "${payloads[@]}"; do
    [[ "$p" == /* ]] || die "--payload '$p' must be an absolute path (it is copied to the same path in the guest)"
    [[ -e "$p" ]] || die "--payload $p: no such file or directory"
done

kver=$("$HERE/build-kernel.sh" --version)
kroot=$("$HERE/build-kernel.sh" --root)

stage=$(mktemp -d "${TMPDIR:-/tmp}/cpuport-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# ---- helpers that copy host paths to the same path in $stage, replicating symlinks ----
# add_dir DIR: make DIR exist in the stage; host symlinks along the way (e.g. /lib -> usr/lib)
# are recreated as the same symlinks.
add_dir() {
    local d=$1
    [[ "$d" == / || -z "$d" ]] && return 0
    if [[ -L "$stage$d" ]]; then add_dir "$(readlink -f "$d")"; return 0; fi
    [[ -e "$stage$d" ]] && return 0
    add_dir "$(dirname "$d")"
    if [[ -L "$d" ]]; then
        ln -s "$(readlink "$d")" "$stage$d"
        add_dir "$(readlink -f "$d")"
    else
        mkdir "$stage$d"
        # same mode and owner as on the host (criu checks modes of directories it reopens)
        if [[ -d "$d" ]]; then chmod --reference="$d" "$stage$d"; chown --reference="$d" "$stage$d"; fi
    fi
}
# add_file FILE: copy FILE (following and recreating symlinks) to the stage.
add_file() {
    local f=$1
    add_dir "$(dirname "$f")"
    # The parent may be a symlink on the host; work with the canonical parent from here on.
    local cf
    cf="$(readlink -f "$(dirname "$f")")/$(basename "$f")"
    add_dir "$(dirname "$cf")"
    if [[ -L "$cf" ]]; then
        [[ -L "$stage$cf" ]] || ln -sfn "$(readlink "$cf")" "$stage$cf"
        local t
        t=$(readlink -f "$cf") || die "dangling symlink $f"
        add_file "$t"
    else
        cp -a --remove-destination "$cf" "$stage$cf"
    fi
}
is_elf() { [[ -f "$1" ]] && [[ "$(LC_ALL=C od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' \n')" == 7f454c46 ]]; }
# add_ldd_deps FILE: copy every library the dynamic loader would load for FILE.
add_ldd_deps() {
    local f=$1 outp lib
    if ! outp=$(LC_ALL=C ldd "$f" 2>&1); then
        case "$outp" in
            *"not a dynamic executable"*|*"statically linked"*) return 0 ;;
            *) echo "$ME: warning: ldd $f failed: $outp" >&2; return 0 ;;
        esac
    fi
    # a library ldd cannot find is fine only if it is a payload too: a program may load it by
    # path before FILE (HotSpot's launcher loads lib/server/libjvm.so, which libjava.so needs)
    for lib in $(awk '$2 == "=>" && $3 == "not" { print $1 }' <<<"$outp"); do
        [[ "$(printf ' %s ' "${payloads[@]}")" == *"/$lib "* ]] ||
            die "ldd $f: missing libraries on the host:"$'\n'"$(grep 'not found' <<<"$outp")"
    done
    for lib in $(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' <<<"$outp"); do
        add_file "$lib"
    done
}

# add_dlopen_deps FILE: the libraries FILE names as a soname string (what it dlopen()s, such as the
# plugin's capstone, loaded on first use), found in the loader cache, with their own dependencies.
add_dlopen_deps() {
    local f=$1 name path
    for name in $({ LC_ALL=C grep -aoE 'lib[A-Za-z0-9_+-]+\.so\.[0-9]+' "$f" || true; } | sort -u); do
        path=$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ { print $NF }' | sed -n 1p)
        [[ -n "$path" && ! -e "$stage$path" ]] || continue
        add_file "$path"
        add_ldd_deps "$path"
    done
}

# ---- base system ----
for d in bin sbin lib lib32 lib64 libx32; do
    [[ -L /$d ]] && ln -s "$(readlink /$d)" "$stage/$d"
done
for d in /usr/bin /usr/sbin /usr/lib /usr/local/bin /usr/local/sbin /proc /sys /dev /run /tmp /root /etc /mnt; do
    add_dir "$d"
done
add_file "$BUSYBOX"
bb=$(readlink -f "$BUSYBOX")
while read -r applet; do
    [[ -n "$applet" && "$applet" != linuxrc ]] || continue
    add_dir "$(dirname "/$applet")"
    [[ -e "$stage/$applet" || -L "$stage/$applet" ]] || ln -s "$bb" "$stage/$applet"
done < <("$BUSYBOX" --list-full)
[[ -e "$stage/bin/sh" ]] || ln -s "$bb" "$stage/bin/sh"
# The kernel opens /dev/console before /init runs (devtmpfs is not mounted yet).
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3

# The loader cache, so libraries outside the default dirs (e.g. /usr/local/lib) resolve as on
# the host; entries for libraries that are not in the initramfs are simply skipped.
for f in /etc/ld.so.cache /etc/ld.so.conf; do [[ -e $f ]] && add_file "$f"; done
[[ -d /etc/ld.so.conf.d ]] && cp -a /etc/ld.so.conf.d "$stage/etc/"

# ---- criu ----
add_file "$CRIU"
add_ldd_deps "$CRIU"
add_file /lib64/ld-linux-x86-64.so.2

# ---- kernel modules (dependencies first, each once) ----
declare -A seen_mod=()
modlist=()
for m in "${MODULES[@]}"; do
    deps=$(modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>&1) ||
        die "module $m not found in kernel $kver: $deps"
    while read -r kind path _; do
        [[ "$kind" == insmod ]] || continue   # "builtin NAME" needs nothing
        [[ -n "${seen_mod[$path]:-}" ]] && continue
        seen_mod[$path]=1
        rel=${path#"$kroot"}; rel=${rel#/.}; rel=/${rel#/}
        add_dir "$(dirname "$rel")"
        cp "$path" "$stage$rel"
        modlist+=("$rel")
    done <<<"$deps"
done
# Only these modules are shipped (inserted in order by /init); modules.* indexes would add ~5 MB.
mkdir -p "$stage/etc/cpuport"
printf '%s\n' "${modlist[@]}" > "$stage/etc/cpuport/modules"
stat -c %a / > "$stage/etc/cpuport/root-mode"

# ---- payloads ----
for p in "${payloads[@]}"; do
    if [[ -d "$p" && ! -L "$p" ]]; then
        add_dir "$(dirname "$p")"
        cp -a --remove-destination "$p" "$stage$(readlink -f "$(dirname "$p")")/"
        while IFS= read -r -d '' f; do
            is_elf "$f" && { add_ldd_deps "$f"; add_dlopen_deps "$f"; }
        done < <(find "$p" -type f -print0)
    else
        add_file "$p"
        is_elf "$p" && { add_ldd_deps "$p"; add_dlopen_deps "$p"; }
    fi
done
if [[ -n "$script_file" ]]; then
    add_dir "$(dirname "$script")"
    cp "$script_file" "$stage$script"
    chmod 755 "$stage$script"
fi

# ---- /init ----
cat > "$stage/etc/cpuport/guest.conf" <<EOF
CPUPORT_GUEST_SCRIPT='$script'
CPUPORT_GUEST_KERNEL='$kver'
EOF
cat > "$stage/init" <<'EOF'
#!/bin/sh
# cpuport test guest init (generated by tests/guest/mkinitramfs.sh)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export CPUPORT_GUEST=1
. /etc/cpuport/guest.conf
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo    # the BIOS leaves escape sequences on the first line of the console
chmod "$(cat /etc/cpuport/root-mode)" /   # rootfs starts as 1777; criu checks the mode of /
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
failed=
while read -r m; do
    err=$(insmod "$m" 2>&1) || case "$err" in *"File exists"*) ;; *) failed="$failed ${m##*/}" ;; esac
done < /etc/cpuport/modules
[ -z "$failed" ] || echo "cpuport-init: warning: could not insert:$failed"
ip link set lo up
# Host pids can be far above the default 32768 of a 1-CPU guest; let criu restore them.
echo 4194304 > /proc/sys/kernel/pid_max
if ! grep -qw rdrand /proc/cpuinfo; then
    # No RDRAND: wait once for the CRNG here, or every criu call stalls ~3 s for entropy.
    dd if=/dev/random of=/dev/null bs=1 count=1 2>/dev/null
fi
cd /
if [ -f "$CPUPORT_GUEST_SCRIPT" ]; then
    sh "$CPUPORT_GUEST_SCRIPT"
    rc=$?
else
    echo "cpuport-init: guest script $CPUPORT_GUEST_SCRIPT not found in the initramfs"
    rc=127
fi
sync
echo
echo "CPUPORT-GUEST-EXIT $rc"
poweroff -f
EOF
chmod 755 "$stage/init"

# ---- archive ----
mkdir -p "$(dirname "$out")"
tmpout="$out.tmp.$$"
# Keep host ownership and modes (criu compares modes of mapped files and of the root and
# working directories); the root directory gets the host's / mode (rootfs defaults to 1777).
chmod "$(stat -c %a /)" "$stage"
( cd "$stage" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --reproducible --quiet ) > "$tmpout" || die "cpio failed"
if ((gzip)); then
    gzip -1 -n -c "$tmpout" > "$tmpout.gz" && mv "$tmpout.gz" "$tmpout"
fi
mv "$tmpout" "$out"
echo "$out"

#!/bin/bash
# run-guest.sh - boot a cpuport test initramfs in a QEMU TCG guest with a given CPU model.
#
# Usage: run-guest.sh --cpu MODEL --initrd FILE [options]
#   --cpu MODEL        QEMU CPU model, e.g. Nehalem, Haswell-v4, Skylake-Server (qemu-system-x86_64 -cpu help)
#   --initrd FILE      initramfs built by mkinitramfs.sh
#   --out-disk FILE    attach FILE as a raw virtio disk (/dev/vda in the guest). FILE is
#                      (re)created empty (sparse, --out-size) before boot. The guest script
#                      writes a tar stream to it (`tar cf /dev/vda -C DIR .`); read it on the
#                      host with `tar xf FILE -C DEST` (or use --out-dir).
#   --out-dir DIR      after the guest exits, extract the tar stream from the output disk into
#                      DIR (created if needed). Without --out-disk a temporary disk is used.
#   --out-size SIZE    size of the output disk (default 512M; truncate(1) syntax)
#   --timeout SEC      kill the guest after SEC seconds (default 300)
#   --log FILE         serial console log, kept (default: a temp file, printed on stderr and
#                      removed again if the guest script exits 0)
#   --append ARGS      extra kernel command line; NAME=value words become environment
#                      variables of /init and the guest script (names without dots)
#   --kernel FILE      kernel to boot (default: `build-kernel.sh --vmlinux`, the uncompressed
#                      kernel booted via PVH, ~3.5 s faster than the bzImage under TCG)
#   --mem MB           guest memory (default 1024)
#   -v, --verbose      copy the console to stderr while the guest runs
#
# Exit code: the guest script's exit code (from the `CPUPORT-GUEST-EXIT <rc>` console line),
# 124 on timeout, 125 if the guest stopped without printing the marker (e.g. kernel panic),
# 2 on usage errors, 1 on other host-side errors (e.g. --out-dir extraction failed).
# On a non-zero exit the tail of the console log is printed on stderr.
set -eEuo pipefail

ME=run-guest.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "$ME: error: $*" >&2; exit 1; }
trap 'echo "$ME: error: unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
usage() { echo "$ME: $*" >&2; echo "usage: $ME --cpu MODEL --initrd FILE [--out-disk FILE] [--out-dir DIR] [--out-size SIZE] [--timeout SEC] [--log FILE] [--append ARGS] [--kernel FILE] [--mem MB] [-v]" >&2; exit 2; }

cpu='' initrd='' out_disk='' out_dir='' out_size=512M timeout=300 logf='' append='' kernel='' mem=1024 verbose=0
while (($#)); do
    case "$1" in
        --cpu|--initrd|--out-disk|--out-dir|--out-size|--timeout|--log|--append|--kernel|--mem)
            (($# >= 2)) || usage "$1 needs an argument"
            v=$2; o=${1#--}; o=${o//-/_}; [[ $o == log ]] && o=logf; printf -v "$o" '%s' "$v"; shift 2 ;;
        -v|--verbose) verbose=1; shift ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage "unknown argument '$1'" ;;
    esac
done
[[ -n "$cpu" ]] || usage "--cpu is required"
[[ -n "$initrd" ]] || usage "--initrd is required"
[[ -f "$initrd" ]] || die "initrd $initrd: no such file"
[[ "$timeout" =~ ^[0-9]+$ ]] || usage "--timeout must be a number of seconds"
[[ "$mem" =~ ^[0-9]+$ ]] || usage "--mem must be a number of MB"
QEMU=${CPUPORT_QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || die "$QEMU not found: apt-get install qemu-system-x86"
if [[ -z "$kernel" ]]; then
    kernel=$("$HERE/build-kernel.sh" --vmlinux) || die "build-kernel.sh failed"
fi
[[ -f "$kernel" ]] || die "kernel $kernel: no such file"

tmpdisk='' tmplog=0
cleanup() { [[ -n "$tmpdisk" ]] && rm -f "$tmpdisk"; return 0; }
trap cleanup EXIT
if [[ -z "$logf" ]]; then
    logf=$(mktemp "${TMPDIR:-/tmp}/cpuport-guest-$cpu.XXXXXX.log")
    tmplog=1
fi
: > "$logf" || die "cannot write log $logf"
if [[ -n "$out_dir" && -z "$out_disk" ]]; then
    tmpdisk=$(mktemp "${TMPDIR:-/tmp}/cpuport-guest-out.XXXXXX.raw")
    out_disk=$tmpdisk
fi
drive=()
if [[ -n "$out_disk" ]]; then
    rm -f "$out_disk"
    truncate -s "$out_size" "$out_disk" || die "cannot create output disk $out_disk"
    drive=(-drive "file=$out_disk,format=raw,if=virtio,cache=unsafe")
fi

tailpid=
if ((verbose)); then
    tail -n +1 -f "$logf" >&2 &
    tailpid=$!
fi
start=$(date +%s.%N)
qrc=0
timeout --kill-after=10 "$timeout" "$QEMU" -accel tcg -cpu "$cpu" -smp 1 -m "$mem" \
    -nographic -no-reboot -nic none -monitor none -serial "file:$logf" \
    -kernel "$kernel" -initrd "$initrd" "${drive[@]}" \
    -append "console=ttyS0 quiet panic=-1 $append" </dev/null >"$logf.qemu" 2>&1 || qrc=$?
end=$(date +%s.%N)
if [[ -n "$tailpid" ]]; then sleep 0.2; kill "$tailpid" 2>/dev/null || true; wait "$tailpid" 2>/dev/null || true; fi
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
# QEMU's own messages (e.g. "TCG doesn't support requested feature") go after the console.
if [[ -s "$logf.qemu" ]]; then
    { echo "--- qemu stderr ---"; cat "$logf.qemu"; } >> "$logf"
fi
rm -f "$logf.qemu"

marker=$(tr -d '\r' < "$logf" | grep -aE '^CPUPORT-GUEST-EXIT [0-9]+$' | tail -n1 || true)
if ((qrc == 124 || qrc == 137)); then
    rc=124; why="timed out after ${timeout}s"
elif [[ -z "$marker" ]]; then
    rc=125; why="guest stopped without the CPUPORT-GUEST-EXIT marker (qemu exit $qrc)"
else
    rc=${marker#CPUPORT-GUEST-EXIT }
    why="guest script exited $rc"
fi
echo "$ME: cpu=$cpu: $why; ${secs}s wall; console log: $logf" >&2

if [[ -n "$out_dir" ]]; then
    mkdir -p "$out_dir"
    if cmp -s -n 512 "$out_disk" /dev/zero; then
        if ((rc == 0)); then
            echo "$ME: error: the guest wrote no tar stream to the output disk (tar cf /dev/vda ...)" >&2
            rc=1
        fi
    elif ! tarerr=$(tar xf "$out_disk" -C "$out_dir" 2>&1); then
        if ((rc == 0)); then
            echo "$ME: error: cannot extract a tar stream from $out_disk: $tarerr" >&2
            rc=1
        fi
    fi
fi
if ((rc != 0)); then
    echo "$ME: ---- last 40 lines of the console ($logf) ----" >&2
    tr -d '\r' < "$logf" | tail -n 40 >&2
    echo "$ME: ---- end of console ----" >&2
elif ((tmplog)); then
    rm -f "$logf"    # success and no --log: nothing to keep
fi
exit "$rc"

#!/usr/bin/env bash
# rollmap's real libserialport code against an emulated USB CDC-ACM roller
# (umockdev): listed with VID:PID and serial, probed, every frame decoded,
# an unplug noticed and the replug recovered. See tests/umockdev/.
# Exit 77 (skipped) only when umockdev cannot work in this environment.
set -euo pipefail
: "${ROLLMAP:?}" "${ROLLMAP_BUILD:?}" "${ROLLMAP_SOURCE:?}"

untested="The USB/libserialport path"
source "$ROLLMAP_SOURCE/tests/umockdev/umockdev_lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME=$work/data

echo "== rollmap devices --no-probe under umockdev-run"
umockdev-run -d "$description" -- \
    sh -c 'LD_PRELOAD="$0:$LD_PRELOAD" exec "$1" devices --no-probe' \
    "$shim" "$ROLLMAP" >"$work/devices.txt"
cat "$work/devices.txt"
grep -q '/dev/ttyACM0 *usb *2341:0043' "$work/devices.txt" ||
    { echo "FAIL: /dev/ttyACM0 not listed as usb 2341:0043" >&2; exit 1; }
grep -q 'serial RM-UMOCK-0001' "$work/devices.txt" ||
    { echo "FAIL: USB serial number not shown" >&2; exit 1; }
grep -q 'known id' "$work/devices.txt" ||
    { echo "FAIL: 2341:0043 not marked as a known id" >&2; exit 1; }

echo "== without the modem shim, libserialport cannot open the port"
umockdev-run -d "$description" -- "$ROLLMAP" devices --json >"$work/noshim.json"
grep -q '"roller": false' "$work/noshim.json" ||
    { echo "FAIL: probing worked without the shim: the shim test proves nothing" >&2; exit 1; }

echo "== a port the user may not open: the real reason and what to do"
# As an unprivileged user (the testbed made readable to it), the emulated
# port is a root-only pty: EACCES, which must not read "no answer".
mkdir -m 777 "$work/nobody"
chmod a+x "$work"
umockdev-run -d "$description" -- sh -c '
    chmod -R a+rwX "$UMOCKDEV_DIR"
    LD_PRELOAD="$0:$LD_PRELOAD" exec setpriv --reuid=65534 --regid=65534 \
        --clear-groups env XDG_DATA_HOME="$2" "$1" devices' \
    "$shim" "$ROLLMAP" "$work/nobody" >"$work/denied.txt"
cat "$work/denied.txt"
grep -q 'cannot open: Permission denied; .*dialout group' "$work/denied.txt" ||
    { echo "FAIL: permission denied not reported with the dialout advice" >&2; exit 1; }
grep -q 'no answer to identify' "$work/denied.txt" &&
    { echo "FAIL: an open error reported as no answer to identify" >&2; exit 1; }

echo "== streaming, unplug and replug (tests/umockdev/umockdev_roller.c)"
LD_PRELOAD="$shim:libumockdev-preload.so.0" "$driver" "$description" "$ROLLMAP"

#!/usr/bin/env bash
# dist/60-rollmap.rules through udev's own rule engine: `udevadm test` on
# umockdev devices, a CDC-ACM board with a USB serial number (ttyACM0) and a
# CH340 bridge without one (ttyUSB0) at the same time. Each gets its own
# links and no link is claimed by both (earlier rules gave both
# /dev/roller0). udevadm test creates the links it computes, so it runs in
# a private mount namespace whose /dev and /run are empty tmpfs.
set -euo pipefail
untested="dist/60-rollmap.rules (the /dev/roller* links)"
. "$ROLLMAP_SOURCE/tests/umockdev/umockdev_lib.sh"
command -v udevadm >/dev/null || skip "udevadm is not installed (apt-get install udev)"
[ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null ||
    skip "a private mount namespace needs root (unshare -m)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir "$work/rules" "$work/host-dev"
cp "$ROLLMAP_SOURCE/dist/60-rollmap.rules" "$work/rules/"
usb=/sys/devices/pci0000:00/0000:00:14.0/usb1
board=$usb/1-2/1-2:1.0/tty/ttyACM0
bridge=$usb/1-3/1-3:1.0/ttyUSB0/tty/ttyUSB0
{
    cat "$description"
    cat <<'EOF'

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3
N: bus/usb/001/008
E: DEVNAME=/dev/bus/usb/001/008
E: DEVTYPE=usb_device
E: DRIVER=usb
E: SUBSYSTEM=usb
E: BUSNUM=001
E: DEVNUM=008
A: busnum=1
A: devnum=8
A: idVendor=1a86
A: idProduct=7523
A: product=USB Serial
A: speed=12

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0
E: DEVTYPE=usb_interface
E: DRIVER=ch341
E: SUBSYSTEM=usb
E: INTERFACE=255/1/2
A: bInterfaceClass=ff
A: bInterfaceNumber=00

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0
E: DRIVER=ch341-uart
E: SUBSYSTEM=usb-serial
A: port_number=0

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0/tty/ttyUSB0
N: ttyUSB0
E: DEVNAME=/dev/ttyUSB0
E: MAJOR=188
E: MINOR=0
E: SUBSYSTEM=tty
EOF
} >"$work/devices.umockdev"

# In the namespace: /dev holds only what umockdev and udevadm need, /run is
# new, and every rule folder holds only rollmap's rules.
cat >"$work/in_namespace.sh" <<'EOF'
set -euo pipefail
work=$1
shift
mount --make-rprivate /
mount --rbind /dev "$work/host-dev"
mount -t tmpfs tmpfs /dev
for node in null zero full random urandom tty; do
    touch "/dev/$node"
    mount --bind "$work/host-dev/$node" "/dev/$node"
done
mkdir /dev/pts
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs tmpfs /run
for rules in /etc/udev/rules.d /lib/udev/rules.d /usr/lib/udev/rules.d \
             /usr/local/lib/udev/rules.d; do
    [ ! -d "$rules" ] || mount --bind "$work/rules" "$rules"
done
for dev in "$@"; do
    echo "== $dev"
    umockdev-run -d "$work/devices.umockdev" -- udevadm test "$dev"
done
EOF
unshare -m bash "$work/in_namespace.sh" "$work" "$board" "$bridge" \
    >"$work/test.log" 2>&1 || fail "udevadm test: $(tail -20 "$work/test.log")"

links() { # links SYSPATH: the DEVLINKS udevadm test computed for it, sorted
    awk -v dev="== $1" '$0 == dev {on = 1; next} /^== / {on = 0}
                        on && /^DEVLINKS=/ {sub(/^DEVLINKS=/, ""); print}' \
        "$work/test.log" | tr ' ' '\n' | sort | paste -sd' '
}
board_links=$(links "$board")
bridge_links=$(links "$bridge")
echo "board:  $board_links"
echo "bridge: $bridge_links"
[ "$board_links" = "/dev/roller-RM-UMOCK-0001 /dev/roller-ttyACM0 /dev/roller0" ] ||
    fail "board links: '$board_links'"
[ "$bridge_links" = "/dev/roller-ttyUSB0" ] || fail "bridge links: '$bridge_links'"
echo "PASS"

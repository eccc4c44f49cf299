#!/usr/bin/env bash
# `cmake --install` as docs/INSTALL.md tells an administrator, staged with
# DESTDIR: the programs, every man page, the systemd unit, its
# configuration and the udev rules land where INSTALL.md says; the unit
# names the installed rollmapd and configuration; the installed rollmapd
# runs with the shipped configuration; a reinstall keeps a configuration
# the administrator edited.
. "$ROLLMAP_SOURCE/tests/integration/daemon_lib.sh"
: "${ROLLMAP_BUILD:?ROLLMAP_BUILD must name the build folder}"

root=$work/root
install_tree() { DESTDIR=$root cmake --install "$ROLLMAP_BUILD" >"$work/install.log" \
                     || fail "cmake --install: $(cat "$work/install.log")"; }
install_tree

unit=$(find "$root" -path '*/lib/systemd/system/rollmapd.service')
[ -n "$unit" ] || fail "no rollmapd.service installed"
find "$root" -path '*/lib/udev/rules.d/60-rollmap.rules' | grep -q . \
    || fail "no udev rules installed"
for page in "$ROLLMAP_SOURCE"/docs/man/*.[18]; do
    find "$root" -name "$(basename "$page")" | grep -q . \
        || fail "man page $(basename "$page") not installed"
done

# The unit's ExecStart: "<bindir>/rollmapd --foreground \ --config <conf>"
exec_start=$(awk '/^ExecStart=/ { on = 1 } on { line = line $0; if (!/\\$/) exit }
                  END { gsub(/\\/, " ", line); print line }' "$unit")
daemon=$(sed -E 's/^ExecStart=([^ ]+).*/\1/' <<<"$exec_start")
conf=$(sed -E 's/.*--config +([^ ]+).*/\1/' <<<"$exec_start")
[ -x "$root$daemon" ] || fail "the unit starts $daemon, not installed"
[ -f "$root$conf" ] || fail "the unit reads $conf, not installed"
[ -x "$(dirname "$root$daemon")/rollmap" ] || fail "rollmap not installed beside rollmapd"
for key in 'source = auto' 'path = /run/rollmap/rollmapd.sock' \
           'library = /var/lib/rollmap/sessions'; do
    grep -qF "$key" "$root$conf" || fail "$conf lacks '$key'"
done

echo "-- the installed rollmapd takes the shipped configuration"
# Its system paths are overridden here: the test needs no root folders.
ROLLMAPD=$root$daemon
start_daemon "sim:seed=1,duration=60" --config "$root$conf" --log stderr
"$ROLLMAP" status --socket "$sock" >"$work/status.txt" \
    || fail "status: $(cat "$work/status.txt")"
stop_daemon

echo "-- a reinstall keeps the administrator's configuration"
echo "# edited by the administrator" >>"$root$conf"
install_tree
grep -q "edited by the administrator" "$root$conf" \
    || fail "a reinstall replaced the edited $conf"
echo "ok"

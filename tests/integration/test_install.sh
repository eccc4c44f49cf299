#!/usr/bin/env bash
# `cmake --install` as docs/INSTALL.md tells an administrator, staged with
# DESTDIR: the programs, every man page, the device profiles, the systemd
# unit, its configuration and the udev rules land where INSTALL.md says;
# the unit names the installed rollmapd and configuration; the installed
# rollmapd runs with the shipped configuration; a reinstall keeps a
# configuration the administrator edited. Installed with --prefix P instead,
# every file lands under P, the unit names P's rollmapd and configuration
# (systemd-analyze verify accepts it), every docs/ page and man page that
# --help names is there, the installed rollmap finds the
# installed profiles by name, and the installed rollmap serve serves the
# installed web files (rollmap-web.service verified too).
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
for profile in "$ROLLMAP_SOURCE"/docs/profiles/*.ini; do
    find "$root" -path "*/share/rollmap/profiles/$(basename "$profile")" | grep -q . \
        || fail "profile $(basename "$profile") not installed"
done
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
echo "-- cmake --install --prefix P keeps every path under P"
prefix=$work/prefix
cmake --install "$ROLLMAP_BUILD" --prefix "$prefix" >"$work/prefix.log" \
    || fail "cmake --install --prefix: $(cat "$work/prefix.log")"
outside=$(grep -E '^-- (Installing|Up-to-date|Keeping): ' "$work/prefix.log" \
              | grep -v -- " $prefix/" || true)
[ -z "$outside" ] || fail "installed outside the prefix: $outside"
prefix_unit=$prefix/lib/systemd/system/rollmapd.service
grep -q "^ExecStart=$prefix/bin/rollmapd " "$prefix_unit" \
    || fail "the unit does not start $prefix/bin/rollmapd: $(grep ExecStart "$prefix_unit")"
grep -q -- "--config $prefix/etc/rollmap/rollmapd.conf" "$prefix_unit" \
    || fail "the unit does not read $prefix/etc/rollmap/rollmapd.conf"
# systemd-analyze looks up the unit's Documentation= man page and checks
# that ExecStart names an executable.
MANPATH=$prefix/share/man systemd-analyze verify "$prefix_unit" >"$work/verify.log" 2>&1 \
    || fail "systemd-analyze verify: $(cat "$work/verify.log")"

echo "-- every docs/ page that --help or a man page names is installed"
commands=$("$prefix/bin/rollmap" help | awk '/^Commands:/ { on = 1; next } on && !NF { exit } on { print $1 }')
named=$({ "$prefix/bin/rollmap" help
          for cmd in $commands; do "$prefix/bin/rollmap" "$cmd" --help; done
          "$prefix/bin/rollmapd" --help
          cat "$prefix"/share/man/man*/*; } 2>/dev/null | grep -o 'docs/[A-Za-z-]*\.md' | sort -u)
[ "$(echo "$named" | wc -l)" -gt 5 ] || fail "too few docs/ pages named: $named"
for page in $named; do
    [ -s "$prefix/share/doc/rollmap/${page#docs/}" ] || fail "$page is named but not installed"
done
"$prefix/bin/rollmap" help | grep -q "share/doc/rollmap" || fail "rollmap help does not say where the docs are"
# Commands described in rollmap(1) have their name as a page too.
for cmd in $commands; do
    case $cmd in help|version) continue ;; esac
    man -M "$prefix/share/man" "rollmap-$cmd" 2>/dev/null | grep -q "rollmap $cmd" \
        || fail "man rollmap-$cmd shows nothing about rollmap $cmd"
done

echo "-- the installed rollmap finds an installed profile by name"
printf 't_ms,raw1,raw2\n0,1000,2000\n12.5,1100,2100\n' >"$work/diy.csv"
(cd "$work" && HOME=$work XDG_CONFIG_HOME=$work/config \
    "$prefix/bin/rollmap" import diy.csv -o diy.rms --profile hx711-arduino \
    --columns t_ms=t_ms,raw1=ch0_counts,raw2=ch1_counts) >"$work/import.log" 2>&1 \
    || fail "import --profile hx711-arduino: $(cat "$work/import.log")"
grep -q "2 channels at 80 Hz" "$work/import.log" \
    || fail "not the installed hx711 profile: $(cat "$work/import.log")"

echo "-- the installed rollmap serve serves the installed web files and dygraphs"
web_unit=$prefix/lib/systemd/system/rollmap-web.service
grep -q "^ExecStart=$prefix/bin/rollmap serve" "$web_unit" \
    || fail "rollmap-web.service does not start $prefix/bin/rollmap serve"
MANPATH=$prefix/share/man systemd-analyze verify "$web_unit" >"$work/verify-web.log" 2>&1 \
    || fail "systemd-analyze verify rollmap-web.service: $(cat "$work/verify-web.log")"
# Marked, so that a page served from the source tree instead would show.
echo "// installed copy" >>"$prefix/share/rollmap/web/live.js"
(cd "$work" && HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data \
    exec "$prefix/bin/rollmap" serve --listen 127.0.0.1:0 --db "$work/web.db" \
    --socket "$work/none.sock") >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 50); do
    port=$(sed -n 's/.*:\([0-9]*\)\/.*/\1/p' "$work/serve.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "the installed rollmap serve did not start: $(cat "$work/serve.log")"
curl -s "http://127.0.0.1:$port/static/live.js" | grep -q "// installed copy" \
    || fail "rollmap serve does not serve the installed live.js"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/vendor/dygraph.min.js")
[ "$code" = 200 ] || fail "/vendor/dygraph.min.js: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/live")
[ "$code" = 200 ] || fail "/live from the installed program: HTTP $code"
kill "$serve_pid"
echo "ok"

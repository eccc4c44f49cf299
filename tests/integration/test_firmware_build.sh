#!/usr/bin/env bash
# A maker builds the roller firmware on its own with the commands of
# docs/BUILD-A-ROLLER.md ("Building the firmware"), run as written from
# the top of rollmap's sources: they must work, make the files the doc
# names for avrdude, put the maker's serial number into the EEPROM image,
# and use the RAM the doc says; run in the emulated bench, the build is
# the maker's roller (serial, diameter).
set -euo pipefail
: "${ROLLMAP_SOURCE:?set ROLLMAP_SOURCE to the source folder}"
command -v avr-gcc >/dev/null || { echo "SKIP: no avr-gcc (gcc-avr, avr-libc, binutils-avr)"; exit 77; }

doc=$ROLLMAP_SOURCE/docs/BUILD-A-ROLLER.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The indented block after "To build it alone", to its `cmake --build`.
sed -n '/To build it alone/,/^    cmake --build/p' "$doc" | sed -n 's/^    //p' >"$work/commands.sh"
grep -q "cmake --build" "$work/commands.sh" || fail "no build commands found in $doc: $(cat "$work/commands.sh")"
serial=$(grep -o -- '-DROLLER_SERIAL=[A-Za-z0-9-]*' "$work/commands.sh" | cut -d= -f2)
[ -n "$serial" ] || fail "the doc's build sets no ROLLER_SERIAL"

# "From the top of rollmap's sources": the maker's checkout, with the
# build folder the doc names made beside hw/.
mkdir "$work/rollmap"
ln -s "$ROLLMAP_SOURCE/hw" "$work/rollmap/hw"
(cd "$work/rollmap" && bash -e "$work/commands.sh") >"$work/build.log" 2>&1 ||
  fail "the doc's commands failed: $(grep -m 1 -A 1 -i error "$work/build.log" || tail -n 5 "$work/build.log")"

# The files the flashing commands use.
build=$(sed -nE 's/.*flash:w:([^:]*)\/roller\.hex:i.*/\1/p' "$doc" | head -n 1)
[ -n "$build" ] || fail "the doc's avrdude command names no roller.hex"
for f in roller.elf roller.hex roller.eep; do
  [ -s "$work/rollmap/$build/$f" ] || fail "$build/$f was not made"
done

# The serial number is in the EEPROM image (Intel HEX data records).
python3 - "$work/rollmap/$build/roller.eep" "$serial" <<'PY' || fail "the serial is not in roller.eep"
import sys
data = bytearray()
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith(":") and line[7:9] == "00":
        data += bytes.fromhex(line[9:9 + 2 * int(line[1:3], 16)])
if sys.argv[2].encode() not in data:
    sys.exit(f"roller.eep holds {bytes(data)!r}")
PY

# avr-size's RAM figure is the doc's.
ram=$(sed -nE 's/^Data: +([0-9]+) bytes.*/\1/p' "$work/build.log")
said=$(grep -oE '[0-9]+ bytes of 2 KB' "$doc" | head -n 1 | cut -d' ' -f1)
[ "$ram" = "$said" ] || fail "avr-size says $ram bytes of RAM, BUILD-A-ROLLER.md says $said"
# The maker's build in the emulated bench ("The emulated bench"): rollmap
# sees the maker's serial and diameter, not the bench's defaults.
bench=${ROLLMAP_BUILD:-}/roller_bench
if [ -x "$bench" ] && [ -n "${ROLLMAP:-}" ]; then
  diameter=$(grep -o -- '-DROLLER_DIAMETER_MM=[0-9.]*' "$work/commands.sh" | cut -d= -f2)
  "$bench" --link "$work/roller" --sim seed=3,duration=60 --speed 0 \
    "$work/rollmap/$build/roller.elf" >/dev/null 2>"$work/bench.err" &
  bench_pid=$!
  trap 'kill "$bench_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
  until [ -L "$work/roller" ]; do
    kill -0 "$bench_pid" 2>/dev/null || fail "roller_bench exited: $(cat "$work/bench.err")"
    sleep 0.1
  done
  "$ROLLMAP" record --source "tty:$work/roller" --duration 2 -o "$work/s.rms" >/dev/null 2>"$work/record.err" ||
    fail "rollmap record from the bench: $(cat "$work/record.err")"
  "$ROLLMAP" info "$work/s.rms" >"$work/info.txt"
  grep -q "serial $serial$" "$work/info.txt" && grep -Eq "roller ${diameter}(\.0)? mm diameter" "$work/info.txt" ||
    fail "the bench ran another roller than the build's: $(grep -E 'device|encoder' "$work/info.txt")"
  # The bench calibrates the EEPROM as the model's load cells are (forces
  # in newtons), which the firmware takes as its own: not the nominal gain
  # (2.65e-4 N a count) of an EEPROM it refused.
  if grep -q "N = 0 + 0.000265 x" "$work/info.txt"; then
    fail "the firmware kept its nominal gain in the bench: $(grep ' ch0 ' "$work/info.txt")"
  fi
fi
echo "ok: the firmware builds as BUILD-A-ROLLER.md says ($serial, $ram bytes of RAM)"

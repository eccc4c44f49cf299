# Shared by the umockdev integration tests (sourced): the emulated roller's
# description, the modem shim and the C driver, and a loud skip (exit 77)
# when umockdev cannot work in this environment. Set `untested` first: what
# a skip leaves untested.
: "${ROLLMAP_BUILD:?}" "${ROLLMAP_SOURCE:?}" "${untested:?}"

description=$ROLLMAP_SOURCE/tests/umockdev/roller.umockdev
shim=$ROLLMAP_BUILD/tests/libmodem_shim.so
driver=$ROLLMAP_BUILD/tests/umockdev_roller

skip() {
    echo "**********************************************************" >&2
    echo "SKIPPED: $*" >&2
    echo "$untested was NOT tested." >&2
    echo "**********************************************************" >&2
    exit 77
}

command -v umockdev-run >/dev/null || skip "umockdev-run is not installed (apt-get install umockdev)"
[ -x "$driver" ] && [ -f "$shim" ] || skip "built without libumockdev-dev (no $driver)"
umockdev-run -d "$description" -- true 2>/dev/null ||
    skip "umockdev-run cannot start a testbed here"

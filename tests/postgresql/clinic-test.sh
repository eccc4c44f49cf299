# Sourced (not run) by the tests of a clinic library on a throwaway
# PostgreSQL server, after they check their own variables:
#
#   . "$ROLLMAP_SOURCE/tests/postgresql/clinic-test.sh"
#
# Runs the sourcing script again under with-cluster.sh unless it already
# runs there (exit 77, skip, without a server), then gives it: $work, a
# folder removed on exit; pids, processes killed (-9) on exit;
# XDG_DATA_HOME inside $work; a database "clinic" and its connection
# string $clinic; sql SQL (one query's rows on it); and stored_whole.
if [ -z "${ROLLMAP_TEST_POSTGRESQL:-}" ]; then
    exec "${ROLLMAP_SOURCE:?}/tests/postgresql/with-cluster.sh" bash "$0" "$@"
fi

work=$(mktemp -d)
pids=()
stop_test() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    # reaped here, the shell does not report them killed
    [ "${#pids[@]}" = 0 ] || wait "${pids[@]}" 2>/dev/null || true
    rm -rf "$work"
}
trap stop_test EXIT
export XDG_DATA_HOME=$work/xdg
clinic="$ROLLMAP_TEST_POSTGRESQL dbname=clinic"
psql "$ROLLMAP_TEST_POSTGRESQL" -qc "CREATE DATABASE clinic" >/dev/null

sql() { psql "$clinic" -Atqc "$1"; }

# Every session file named is stored once, byte for byte: its length and
# completeness, and its chunks' bytes put together equal the file.
stored_whole() { # stored_whole FILE...
    local f sid
    for f in "$@"; do
        sid=$("$ROLLMAP" info --json "$f" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["session_id"])')
        [ "$(sql "SELECT content_length || ' ' || complete FROM session_data WHERE session_id = '$sid'")" \
            = "$(stat -c %s "$f") 1" ] || return 1
        sql "SELECT encode(bytes, 'hex') FROM session_chunks WHERE session_id = '$sid' ORDER BY idx" \
            | tr -d '\n' | xxd -r -p | cmp -s - "$f" || return 1
    done
}

#!/usr/bin/env bash
# rollmap serve over real HTTP on loopback (curl and Python sockets): the
# pages, assigning a session (checked with rollmap library list), and the
# security rules of docs/WEB.md: hostile client text stays inert, changes
# need the CSRF token, traversal is refused, 10 MB headers and bodies are
# refused without harm, 1,000 dropped connections leave it serving, a
# non-loopback listener needs a password, and with one every route but the
# login asks for it; with --cert/--key it speaks only HTTPS.
set -euo pipefail
: "${ROLLMAP:?ROLLMAP must name the rollmap program}"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data

xss_client='<script>alert(1)</script>'
xss_notes='"><img src=x onerror=alert(2)>'
session() { # session NAME SEED [record options...]
    local name=$1 seed=$2
    shift 2
    "$ROLLMAP" simulate --seed "$seed" --duration 60 --out "$work/$name.bin" >/dev/null 2>&1
    "$ROLLMAP" record --source "file:$work/$name.bin?fast" -o "$work/$name.rms" "$@" \
        >/dev/null 2>&1 || fail "record $name"
    "$ROLLMAP" library add --db "$work/lib.db" "$work/$name.rms" >/dev/null
}
session a 7 --client "$xss_client" --side left --notes "$xss_notes"
session b 8 --client "$xss_client" --side left
session u 9

start_serve() { # start_serve LOG [options...]: sets $port
    local log=$1
    shift
    "$ROLLMAP" serve --db "$work/lib.db" --socket "$work/none.sock" "$@" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do
        port=$(sed -n 's/.*:\([0-9]*\)\/.*/\1/p' "$log")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    fail "serve did not start: $(cat "$log")"
}

echo "-- pages answer, hostile text is inert on every one"
start_serve "$work/serve.log" --listen 127.0.0.1:0
base=http://127.0.0.1:$port
for page in /live /library "/library/client?code=%3Cscript%3Ealert(1)%3C%2Fscript%3E" \
            /library/sessions /library/unassigned /session/1 /compare \
            "/compare?client=%3Cscript%3Ealert(1)%3C%2Fscript%3E" /session/1/report.html; do
    code=$(curl -s -o "$work/page" -w '%{http_code}' "$base$page")
    [ "$code" = 200 ] || fail "$page: HTTP $code"
    if grep -qF -e "$xss_client" -e '<img src=x' "$work/page"; then
        fail "$page shows client text unescaped"
    fi
done
grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$work/page" \
    || fail "the report does not show the client code at all"
curl -sI "$base/library" | grep -qi "content-security-policy: default-src 'self'; script-src 'self'" \
    || fail "no Content-Security-Policy"

echo "-- a session not in the library: a clear 404, not the database's path"
for page in /session/999 /session/999/report.html; do
    code=$(curl -s -o "$work/page" -w '%{http_code}' "$base$page")
    [ "$code" = 404 ] || fail "$page: HTTP $code"
    grep -q "<h1>No session 999 in the library (removed, or an old link)</h1>" "$work/page" \
        || fail "$page: unclear: $(grep '<h1>' "$work/page")"
    ! grep -qF "$work" "$work/page" || fail "$page shows the database's path"
done

echo "-- compare: picked by ticked ids, or since a date (a bad date is named)"
curl -s "$base/compare?id=1&id=2" | grep -q "<p>2 sessions" || fail "compare of ticked ids"
curl -s "$base/compare?client=%3Cscript%3Ealert(1)%3C%2Fscript%3E&since=2000-01-01" \
    | grep -q "<p>2 sessions" || fail "compare since a date"
curl -s "$base/compare?client=%3Cscript%3Ealert(1)%3C%2Fscript%3E&since=2999-01-01" \
    | grep -q "this choice has 0" || fail "compare since a later date found sessions"
curl -s "$base/compare?client=x&since=someday" | grep -q "since: expected YYYY-MM-DD" \
    || fail "a bad since date is not named"

echo "-- a change without the CSRF token is refused; with it, assign moves the session"
code=$(curl -s -o /dev/null -w '%{http_code}' -d 'client=C-9&side=right' "$base/session/3/assign")
[ "$code" = 403 ] || fail "POST without CSRF: HTTP $code"
csrf=$(curl -s "$base/library" | sed -n 's/.*name="csrf-token" content="\([0-9a-f]*\)".*/\1/p')
[ ${#csrf} = 64 ] || fail "no CSRF token in the page"
code=$(curl -s -o /dev/null -w '%{http_code}' -d "client=C-9&side=right&muscle=hamstring&csrf=$csrf" \
       "$base/session/3/assign")
[ "$code" = 303 ] || fail "assign: HTTP $code"
"$ROLLMAP" library list --db "$work/lib.db" --client C-9 | grep -q 'C-9 *right' \
    || fail "the session is not under C-9: $("$ROLLMAP" library list --db "$work/lib.db")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: 00$csrf" -d rating=7 "$base/api/live/mark")
[ "$code" = 403 ] || fail "mark with a wrong token: HTTP $code"

echo "-- a session whose file has no start time (an import) says so, not 1970"
python3 -c 'import math; print("t_s,ch0_N,position_cm"); [print(f"{i / 100:.2f},{200 + 50 * math.sin(i / 100):.1f},{15 + 15 * math.sin(i / 500):.2f}") for i in range(6000)]' \
    >"$work/nostart.csv"
"$ROLLMAP" import "$work/nostart.csv" -o "$work/nostart.rms" --client C-9 --side left >/dev/null
nostart=$("$ROLLMAP" library add --db "$work/lib.db" "$work/nostart.rms" | cut -f1)
curl -s "$base/session/$nostart" >"$work/page"
grep -q "<h1>Session (date unknown)</h1>" "$work/page" || fail "no unknown date on the session page"
! grep -q 1970 "$work/page" || fail "the session page shows 1970 for an unknown start"
curl -s "$base/library/client?code=C-9" >"$work/page"
grep -q '(date unknown)</a>' "$work/page" || fail "the client's sessions do not say the date is unknown"
! grep -q 1970 "$work/page" || fail "the client page shows 1970 for an unknown start"
grep -q 'data-series="\[\[1[0-9]\{12\},[^]]*\]\]"' "$work/page" \
    || fail "the client's chart is not its one dated session: $(grep -o 'data-series="[^"]*"' "$work/page")"

echo "-- a client code with no sessions (mistyped) is a clear 404, not an empty client"
code=$(curl -s -o "$work/page" -w '%{http_code}' "$base/library/client?code=c-9")
[ "$code" = 404 ] || fail "client c-9: HTTP $code"
grep -q "<h1>No sessions of client c-9 in the library (client codes are case-sensitive)</h1>" \
    "$work/page" || fail "client c-9: unclear: $(grep '<h1>' "$work/page")"

echo "-- compare a left and a right session: spots not compared, not 'unchanged'"
right=$("$ROLLMAP" library list --db "$work/lib.db" --client C-9 --side right --json \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
curl -s "$base/compare?ids=$right,$nostart" | sed -n '/id="in-words"/,/<\/section>/p' >"$work/words"
grep -q '<h3 class="change-not-compared">Not compared: [1-9]' "$work/words" \
    || fail "a left and a right session: spots not listed as not compared: $(cat "$work/words")"
! grep -q "Unchanged" "$work/words" || fail "spots of one session called unchanged: $(cat "$work/words")"

echo "-- traversal on static and download routes"
for path in /static/../web-password /static/%2e%2e%2fstyle.css /static/..%2f..%2fetc%2fpasswd \
            /session/1/..%2f..%2fetc%2fpasswd /session/1/%2e%2e /vendor/..%2fdygraph.js \
            /static/.htaccess; do
    code=$(curl -s --path-as-is -o "$work/page" -w '%{http_code}' "$base$path")
    [ "$code" = 404 ] || fail "$path: HTTP $code"
    ! grep -q root: "$work/page" || fail "$path leaked a file"
done

echo "-- 10 MB header and body refused, 1,000 dropped connections, still serving"
python3 - "$port" <<'PY' || fail "oversized requests or dropped connections"
import socket, sys
port = int(sys.argv[1])
big = b"x" * (10 * 1024 * 1024)
def send(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        answer = s.recv(200)
    except (ConnectionResetError, socket.timeout):
        answer = b""
    s.close()
    return answer
a = send(b"GET /library HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n")
assert not a.startswith(b"HTTP/1.1 200"), a
a = send(b"POST /api/live/mark HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
         b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" % len(big) + big)
assert not a.startswith(b"HTTP/1.1 200") and not a.startswith(b"HTTP/1.1 303"), a
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.close()
a = send(b"GET /library HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert a.startswith(b"HTTP/1.1 200"), a
PY

echo "-- a non-loopback listener without a password refuses to start"
if "$ROLLMAP" serve --db "$work/lib.db" --listen 0.0.0.0:0 >"$work/refuse.log" 2>&1; then
    fail "serve started on 0.0.0.0 without a password"
fi
grep -q "refusing to listen on 0.0.0.0 without a password" "$work/refuse.log" \
    || fail "unclear refusal: $(cat "$work/refuse.log")"

echo "-- with a password: 401/redirect until logged in, then pages and CSRF"
echo "correct horse battery" | "$ROLLMAP" serve --set-password >/dev/null
grep -q '^\$argon2id\$' "$XDG_CONFIG_HOME/rollmap/web-password" || fail "not an argon2id hash"
! grep -q "correct horse" "$XDG_CONFIG_HOME/rollmap/web-password" || fail "password stored plain"
start_serve "$work/serve2.log" --listen 127.0.0.1:0
base=http://127.0.0.1:$port
grep -q "password required" "$work/serve2.log" || fail "serve does not say a password is required"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base/library")
[ "$code" = "303 $base/login?next=%2Flibrary" ] || fail "GET /library without login: $code"
# The login comes back to the page asked for, and only to a page of its own.
asked=$(curl -s -o /dev/null -w '%{redirect_url}' "$base/library/client?code=C-9")
[ "$asked" = "$base/login?next=%2Flibrary%2Fclient%3Fcode%3DC-9" ] || fail "login redirect: $asked"
curl -s "$asked" | grep -qF '<input type="hidden" name="next" value="/library/client?code=C-9">' \
    || fail "the login form does not carry the page asked for"
for next in /library/client%3Fcode%3DC-9 //evil.example/ https://evil.example/ /%5Cevil; do
    curl -s -c "$work/jar" -o /dev/null -w '%{redirect_url}\n' \
        -d "password=correct+horse+battery&next=$next" "$base/login"
done >"$work/after-login"
[ "$(cat "$work/after-login")" = "$(printf '%s\n' "$base/library/client?code=C-9" "$base/live" \
    "$base/live" "$base/live")" ] || fail "after the login: $(cat "$work/after-login")"
code=$(curl -s -o /dev/null -w '%{http_code}' -d rating=7 "$base/api/live/mark")
[ "$code" = 401 ] || fail "POST without login: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/live")
[ "$code" = 401 ] || fail "live stream without login: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -d password=wrong "$base/login")
[ "$code" = 401 ] || fail "wrong password: HTTP $code"
curl -s -c "$work/jar" -o /dev/null -d "password=correct+horse+battery" "$base/login"
grep -q rollmap_session "$work/jar" || fail "no session cookie"
curl -sv -o /dev/null -d "password=correct+horse+battery" "$base/login" 2>&1 \
    | grep -i 'set-cookie' | grep -q 'HttpOnly; SameSite=Strict' || fail "cookie not HttpOnly/SameSite"
code=$(curl -s -b "$work/jar" -o "$work/page" -w '%{http_code}' "$base/library")
[ "$code" = 200 ] || fail "GET /library logged in: HTTP $code"
code=$(curl -s -b "$work/jar" -o /dev/null -w '%{http_code}' -d 'key=a&value=b' "$base/session/1/tag")
[ "$code" = 403 ] || fail "logged in, POST without CSRF: HTTP $code"
for i in 1 2 3 4 5; do curl -s -o /dev/null -d password=wrong "$base/login"; done
code=$(curl -s -o /dev/null -w '%{http_code}' -d "password=correct+horse+battery" "$base/login")
[ "$code" = 429 ] || fail "login after 5 failures: HTTP $code (not rate-limited)"

echo "-- TLS with --cert/--key: HTTPS, a Secure cookie, plain HTTP refused"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
if "$ROLLMAP" serve --db "$work/lib.db" --listen 127.0.0.1:0 --cert "$work/cert.pem" \
       >"$work/half.log" 2>&1; then
    fail "serve started with --cert but no --key"
fi
grep -q "TLS needs both --cert and --key" "$work/half.log" || fail "unclear: $(cat "$work/half.log")"
"$ROLLMAP" serve --cert "/$(printf 'x%.0s' $(seq 5000))" >"$work/long.log" 2>&1 &&
    fail "serve took a --cert path longer than its field"
grep -q "^rollmap serve: --cert: longer than" "$work/long.log" || fail "unclear: $(cat "$work/long.log")"
start_serve "$work/tls.log" --listen 127.0.0.1:0 --cert "$work/cert.pem" --key "$work/key.pem"
grep -q "https://127.0.0.1:$port/" "$work/tls.log" || fail "serve does not say https: $(cat "$work/tls.log")"
code=$(curl -s --cacert "$work/cert.pem" -o "$work/page" -w '%{http_code}' "https://127.0.0.1:$port/login")
[ "$code" = 200 ] || fail "GET /login over TLS: HTTP $code"
curl -sv --cacert "$work/cert.pem" -o /dev/null -d "password=correct+horse+battery" \
    "https://127.0.0.1:$port/login" 2>&1 | grep -i 'set-cookie' | grep -q '; Secure' \
    || fail "the session cookie over TLS is not Secure"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/login" || true)
[ "$code" != 200 ] || fail "plain HTTP answered on the TLS port"
echo "PASS"

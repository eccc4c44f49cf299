#!/usr/bin/env bash
# The browser tier (tests/browser/test_browser.py): headless Chromium via
# Selenium against rollmap serve, a session library and rollmapd on the
# virtual roller. Screenshots are kept in $ROLLMAP_BUILD/browser-artifacts.
set -euo pipefail
: "${ROLLMAP:?}" "${ROLLMAPD:?}" "${ROLLMAP_BUILD:?}" "${ROLLMAP_SOURCE:?}"
# Debian's python3-selenium and chromium-driver (scripts/setup installs them).
exec /usr/bin/python3 "$ROLLMAP_SOURCE/tests/browser/test_browser.py" \
    "$ROLLMAP" "$ROLLMAPD" "$ROLLMAP_BUILD/browser-artifacts"

#!/usr/bin/env bash
# Installs the Debian packages the test suite drives (headless Chromium for the browser tests).
# Does nothing when they are already there; says what to do when it cannot install them itself.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests (apt-get)…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "Chromium is not installed; the browser tests will be skipped." >&2
  echo "Install it with: sudo apt-get install chromium" >&2
fi

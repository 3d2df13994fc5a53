#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: headless Chromium for the browser tests,
# Tesseract for OCR of scanned pages, poppler-utils (pdftotext) as the benchmark's peer, Pango for PDF exports,
# Node.js for the OpenID Connect provider the single sign-on tests start.
# Does nothing when they are already there; says what to do when it cannot install them itself.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
# The single sign-on browser tests start a real OpenID Connect provider on Node.js 20 or later (tests/oidc/).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# WeasyPrint (PDF exports) draws text with Pango.
ldconfig -p 2>/dev/null | grep -q "libpango-1.0.so" || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} (apt-get)…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing Debian packages: ${missing[*]}; the tests that need them will be skipped." >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
fi

"""Removes characters from extracted text that would break storage or display.

It must never change any other character, so offsets computed afterwards stay meaningful.
"""

from __future__ import annotations

import re

# NUL is rejected by PostgreSQL text columns; lone surrogates cannot be encoded as UTF-8.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Return `text` without NUL characters and lone surrogates."""
    # Searching first avoids copying large, already-clean texts.
    if text.isascii() and "\x00" not in text:
        return text
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub("", text)

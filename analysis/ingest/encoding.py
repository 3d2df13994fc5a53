"""Recognises how text-like bytes are encoded and whether they are text at all.

It must never decode a whole file: it sees a head, or hands back a codec name for streaming.
"""

from __future__ import annotations

import codecs

FALLBACK_ENCODING = "cp1252"

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # The "utf-16" codec reads the BOM to pick the byte order and drops it.
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Text may contain a few stray control characters (a form feed, an escape); binary has many.
_MAX_CONTROL_SHARE = 0.01
# Western text in a legacy code page is mostly ASCII; a file that is mostly high bytes is
# either binary or another code page we would turn into mojibake.
_MAX_HIGH_BYTE_SHARE = 0.30
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def bom_encoding(head: bytes) -> str | None:
    """Codec named by a byte-order mark at the start of `head`, if there is one."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def decode_head(head: bytes, *, complete: bool) -> str | None:
    """Decode the first bytes of a file if they look like text, else return None.

    `complete` says whether `head` is the whole file; when it is not, a multibyte character
    cut off at the end of the head is not an error.
    """
    encoding = bom_encoding(head)
    if encoding is not None:
        text = _decode_strict(head, encoding, complete=complete)
    elif b"\x00" in head:
        return None
    else:
        text = _decode_strict(head, "utf-8", complete=complete)
        if text is None and _high_byte_share(head) <= _MAX_HIGH_BYTE_SHARE:
            text = head.decode(FALLBACK_ENCODING, errors="replace")
    if text is None or "\x00" in text or _control_share(text) > _MAX_CONTROL_SHARE:
        return None
    return text


def _decode_strict(data: bytes, encoding: str, *, complete: bool) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        return decoder.decode(data, final=complete)
    except UnicodeDecodeError:
        return None


def _high_byte_share(data: bytes) -> float:
    if not data:
        return 0.0
    high_bytes = data.translate(None, bytes(range(128)))
    return len(high_bytes) / len(data)


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(
        1
        for char in text
        if (char < " " and char not in _ALLOWED_CONTROLS)
        or "\x7f" <= char <= "\x9f"
        or char == "\ufffd"
    )
    return controls / len(text)

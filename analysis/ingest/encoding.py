"""Recognises how text-like bytes are encoded and whether they are text at all.

It must never decode a whole file: it sees a head or a sample, and hands back a codec name
for the caller to stream with.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes
from charset_normalizer.models import CharsetMatch, CharsetMatches

FALLBACK_ENCODING = "cp1252"

# How much of a file the detectors look at: enough for a stable guess, cheap on any file.
SAMPLE_BYTES = 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # The "utf-16" codec reads the BOM to pick the byte order and drops it.
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Text may contain a few stray control characters (a form feed, an escape); binary has many.
_MAX_CONTROL_SHARE = 0.01
# Western text in a legacy code page is mostly ASCII; a file that is mostly high bytes is
# binary or text in a non-Latin code page, which needs a real detector to tell apart.
_MAX_HIGH_BYTE_SHARE = 0.30
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")

# UTF-16 without a BOM: Latin-script text has a NUL in every other byte, on one side only.
_UTF16_MIN_BYTES = 8
_UTF16_MIN_NUL_SIDE = 0.40
_UTF16_MAX_NUL_OTHER_SIDE = 0.05

# Unicode blocks (as charset-normalizer names them) that every Western code page can show.
# Detectors cannot tell cp1252 from cp1250, cp850 or mac_roman on such text with any
# confidence, so there the choice is made by _latin_encoding, not by the detector's ranking.
_LATIN_BLOCKS = frozenset(
    {
        "Basic Latin", "Latin-1 Supplement", "Latin Extended-A", "Latin Extended-B",
        "Latin Extended Additional", "IPA Extensions", "Spacing Modifier Letters",
        "General Punctuation", "Currency Symbols", "Letterlike Symbols", "Control character",
        "Box Drawing", "Block Elements", "Mathematical Operators", "Number Forms",
        "Combining Diacritical Marks", "Geometric Shapes", "Arrows",
    }
)  # fmt: skip
# Languages written in windows-1250 (Central European); elsewhere cp1252 is what legacy
# Windows editors wrote, and what browsers assume.
_CENTRAL_EUROPEAN = frozenset(
    {"Polish", "Czech", "Slovak", "Hungarian", "Slovene", "Croatian", "Romanian"}
)
_CENTRAL_EUROPEAN_CODECS = ("cp1250", "iso8859_2")
_CHAOS_TOLERANCE = 0.01


def bom_encoding(head: bytes) -> str | None:
    """Codec named by a byte-order mark at the start of `head`, if there is one."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def utf16_encoding(head: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when `head` looks like BOM-less UTF-16 text, else None.

    Only Latin-script text can be recognised this way; BOM-less UTF-16 of other scripts has
    no such pattern and is left to the caller's other checks.
    """
    sample = head[: len(head) - len(head) % 2]
    if len(sample) < _UTF16_MIN_BYTES:
        return None
    half = len(sample) // 2
    even_nuls = sample[0::2].count(0) / half
    odd_nuls = sample[1::2].count(0) / half
    if odd_nuls >= _UTF16_MIN_NUL_SIDE and even_nuls <= _UTF16_MAX_NUL_OTHER_SIDE:
        return "utf-16-le"
    if even_nuls >= _UTF16_MIN_NUL_SIDE and odd_nuls <= _UTF16_MAX_NUL_OTHER_SIDE:
        return "utf-16-be"
    return None


def legacy_encoding(sample: bytes) -> str | None:
    """Best codec for `sample`, bytes known not to be UTF-8; None if no codec fits at all.

    `sample` should be at most SAMPLE_BYTES; it may end in the middle of a character.
    """
    matches = from_bytes(sample)
    best = matches.best()
    if best is None:
        return None
    if best.encoding in ("ascii", "utf_8"):
        # The sample decodes as UTF-8 after all (the bad bytes lie beyond it): a UTF-8 file
        # with stray bytes, or a sample too small to say; the caller's fallback decides.
        return None
    if not set(best.alphabets) <= _LATIN_BLOCKS:
        # Cyrillic, Greek, CJK ...: the script itself is evidence the detector can use.
        return best.encoding
    return _latin_encoding(sample, matches, best)


def _latin_encoding(sample: bytes, matches: CharsetMatches, best: CharsetMatch) -> str:
    if best.language in _CENTRAL_EUROPEAN:
        for match in matches:
            if (
                match.encoding in _CENTRAL_EUROPEAN_CODECS
                and match.chaos <= best.chaos + _CHAOS_TOLERANCE
            ):
                return match.encoding
    try:
        sample.decode(FALLBACK_ENCODING)
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; a sample using them was written otherwise.
        return best.encoding
    return FALLBACK_ENCODING


def decode_head(head: bytes, *, complete: bool) -> str | None:
    """Decode the first bytes of a file if they look like text, else return None.

    `complete` says whether `head` is the whole file; when it is not, a multibyte character
    cut off at the end of the head is not an error.
    """
    encoding = bom_encoding(head) or utf16_encoding(head)
    if encoding is not None:
        text = _decode_strict(head, encoding, complete=complete)
    elif b"\x00" in head:
        return None
    else:
        text = _decode_strict(head, "utf-8", complete=complete)
        if text is None:
            if _high_byte_share(head) <= _MAX_HIGH_BYTE_SHARE:
                # Mostly ASCII: whatever the code page, cp1252 shows enough to judge the kind.
                text = head.decode(FALLBACK_ENCODING, errors="replace")
            else:
                legacy = legacy_encoding(head)
                text = head.decode(legacy, errors="replace") if legacy is not None else None
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

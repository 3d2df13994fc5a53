"""Guesses a document's main language from a sample of its text (langdetect, seeded)."""

from __future__ import annotations

from langdetect import DetectorFactory, LangDetectException, detect_langs

# langdetect is randomised; a fixed seed makes the same text always give the same answer.
DetectorFactory.seed = 0

# A few evenly spread windows say as much as the whole text for a fraction of the time.
_WINDOWS = 8
_WINDOW_CHARS = 2000
_MIN_LETTERS = 40
_MIN_PROBABILITY = 0.80


def guess_language(text: str) -> str | None:
    """ISO 639-1 code ("en", "de", ...) or None when the text is too short or too mixed to tell."""
    if len(text) <= _WINDOWS * _WINDOW_CHARS:
        sample = text
    else:
        step = len(text) // _WINDOWS
        sample = "\n".join(text[i * step : i * step + _WINDOW_CHARS] for i in range(_WINDOWS))
    if sum(ch.isalpha() for ch in sample) < _MIN_LETTERS:
        return None
    try:
        best = detect_langs(sample)[0]
    except LangDetectException:
        return None
    return best.lang if best.prob >= _MIN_PROBABILITY else None

"""Numbers written in words, as contracts write them: "thirty (30) days", "one hundred twenty", "the
twenty-first day of May". Cardinals up to the thousands and the ordinals of a month's days are enough."""

from __future__ import annotations

import re

_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
CARDINALS = {word: value for value, word in enumerate(_UNITS)} | _TENS | {"a": 1, "an": 1}
SCALES = {"hundred": 100, "thousand": 1000}

_ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
                  "ninth": 9}
ORDINAL_WORDS = dict(_ORDINAL_UNITS)
ORDINAL_WORDS.update({"tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
                      "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
                      "thirtieth": 30})
for _tens_word, _tens in (("twenty", 20), ("thirty", 30)):
    for _unit_word, _unit in _ORDINAL_UNITS.items():
        if _tens + _unit <= 31:
            for _joiner in ("-", " "):
                ORDINAL_WORDS[f"{_tens_word}{_joiner}{_unit_word}"] = _tens + _unit


def number_words_pattern() -> str:
    """A regular expression (no groups) for a cardinal written in words: "thirty", "twenty-four",
    "one hundred and twenty"."""
    single = "|".join(sorted([w for w in CARDINALS if w not in ("a", "an")], key=len, reverse=True))
    tens = "|".join(_TENS)
    word = rf"(?:(?:{tens})[- ](?:{'|'.join(_UNITS[1:10])})|{single})"
    return rf"{word}(?:\s+(?:hundred|thousand)(?:\s+(?:and\s+)?{word})?)*"


_SPLIT = re.compile(r"[\s-]+")


def number_from_words(words: str) -> int | None:
    """The value of a cardinal in words, or None when the words are not one."""
    total = current = 0
    seen = False
    for word in _SPLIT.split(words.lower().strip()):
        if word == "and" and seen:
            continue
        if word in CARDINALS:
            current += CARDINALS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None

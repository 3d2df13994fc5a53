"""Key terms read from the text with patterns alone: dates, durations and notice periods, money, percentages,
governing law and venue. Every term is an exact span of the document text with a normalised value, so the
report can show it at once and highlight it like any other anchor; nothing here guesses beyond the words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from analysis.first_pass.numbers import ORDINAL_WORDS, number_from_words, number_words_pattern


class TermKind:
    DATE = "date"
    DURATION = "duration"
    NOTICE_PERIOD = "notice_period"
    MONEY = "money"
    PERCENTAGE = "percentage"
    GOVERNING_LAW = "governing_law"
    VENUE = "venue"


@dataclass(frozen=True)
class Term:
    """document.text[start:end] is the term as written; `value` is its normalised form (ISO 8601 date or
    duration, "1500000.00 USD", "12.5%", a jurisdiction's name)."""

    kind: str
    start: int
    end: int
    text: str
    value: str


# --- Dates -----------------------------------------------------------------------------------------------

_MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"), ("october", "oct"), ("november", "nov"),
    ("december", "dec"),
), start=1) for name in names}
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH = rf"(?P<month>{_MONTH_NAMES})\.?"
MONTH_NAME = rf"(?:{_MONTH_NAMES})\.?"  # the same, without a group, for patterns elsewhere (match case-blind)
# "1st", and the ordinal a PDF's text layer split in two ("1s t day of June", "March 7t h"), common in CUAD's filings.
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|s\s?t|n\s?d|r\s?d|t\s?h)?"
_DAY_WORD = r"(?P<day_word>" + "|".join(sorted(ORDINAL_WORDS, key=len, reverse=True)) + r")"
_YEAR = r"(?P<year>(?:19|20)\d\d)"

_DATE_PATTERNS = tuple(re.compile(pattern, re.IGNORECASE) for pattern in (
    # October 1, 2019 / Oct. 1st 2019
    rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b",
    # 1 October 2019 / 1st of October, 2019
    rf"\b{_DAY}\s+(?:day\s+of\s+|of\s+)?{_MONTH},?\s+{_YEAR}\b",
    # the fifteenth day of March, 2001 / the first day of January 2020
    rf"\b{_DAY_WORD}\s+(?:\(\d{{1,2}}(?:st|nd|rd|th)?\)\s+)?day\s+of\s+{_MONTH},?\s+(?:in\s+the\s+year\s+)?{_YEAR}\b",
    # 2019-10-01
    r"\b(?P<iso_year>(?:19|20)\d\d)-(?P<iso_month>[01]\d)-(?P<iso_day>[0-3]\d)\b",
    # 10/01/2019 (month first, as in the US filings CUAD comes from; a day above 12 swaps them)
    r"(?<![\d/])(?P<first>[01]?\d|[23]\d)/(?P<second>[0-3]?\d)/(?P<slash_year>(?:19|20)\d\d)(?![\d/])",
    # 12-23-2019 (month first, as the slashed form)
    r"(?<![\d-])(?P<dash_first>[01]?\d|[23]\d)-(?P<dash_second>[0-3]?\d)-(?P<dash_year>(?:19|20)\d\d)(?![\d-])",
    # December 2019 (a month alone: normalised to YYYY-MM)
    rf"\b{_MONTH}\s+{_YEAR}\b",
))


def _date_value(match: re.Match) -> str | None:
    groups = {name: value for name, value in match.groupdict().items() if value}
    try:
        if "iso_year" in groups:
            return date(int(groups["iso_year"]), int(groups["iso_month"]), int(groups["iso_day"])).isoformat()
        if "slash_year" in groups or "dash_year" in groups:
            dashed = "dash_year" in groups
            first = int(groups["dash_first" if dashed else "first"])
            second = int(groups["dash_second" if dashed else "second"])
            month, day = (first, second) if first <= 12 else (second, first)
            return date(int(groups["dash_year" if dashed else "slash_year"]), month, day).isoformat()
        month = _MONTHS[groups["month"].lower().rstrip(".")]
        year = int(groups["year"])
        if "day_word" in groups:
            return date(year, month, ORDINAL_WORDS[groups["day_word"].lower()]).isoformat()
        if "day" in groups:
            return date(year, month, int(groups["day"])).isoformat()
        return f"{year:04d}-{month:02d}"
    except ValueError:  # 31 February and the like: not a date
        return None


def dates(text: str) -> Iterator[Term]:
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:  # most specific first; a later pattern never re-reads a matched span
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            value = _date_value(match)
            if value is not None:
                taken.append((start, end))
                yield Term(TermKind.DATE, start, end, match.group(0), value)


# --- Durations and notice periods ---------------------------------------------------------------------------

_UNITS = {"day": "D", "business day": "D", "calendar day": "D", "working day": "D", "week": "W", "month": "M",
          "year": "Y", "calendar month": "M", "calendar year": "Y"}
_UNIT = r"(?P<unit>(?:business|calendar|working)\s+days?|calendar\s+(?:months?|years?)|days?|weeks?|months?|years?)"
_NUMBER_WORDS = number_words_pattern()
# "thirty (30) days", "30 days", "sixty days", "ninety (90) calendar days", "two-year"
_DURATION = re.compile(
    rf"\b(?:(?P<words>{_NUMBER_WORDS})\s*(?:\((?P<paren>\d{{1,4}})\)\s*)?|(?P<digits>\d{{1,4}})\s*)[- ]?{_UNIT}\b",
    re.IGNORECASE,
)
_NOTICE_AFTER = re.compile(r"^['\u2019]?s?\s*(?:\(?prior\)?\s+|advance\s+|written\s+|prior\s+written\s+)*notice", re.IGNORECASE)
_NOTICE_BEFORE = re.compile(r"notice\s+(?:of\s+)?(?:at\s+least\s+|not\s+less\s+than\s+|no\s+less\s+than\s+|within\s+|given\s+)?$",
                            re.IGNORECASE)


def durations(text: str) -> Iterator[Term]:
    for match in _DURATION.finditer(text):
        count = _duration_count(match)
        if count is None or count == 0:
            continue
        unit = re.sub(r"s$", "", " ".join(match.group("unit").lower().split()))
        letter = _UNITS.get(unit)
        if letter is None:
            continue
        value = f"P{count * 7}D" if letter == "W" else f"P{count}{letter}"
        if unit == "business day" or unit == "working day":
            value += " (business days)"
        after = text[match.end():match.end() + 40]
        before = text[max(0, match.start() - 40):match.start()]
        kind = TermKind.NOTICE_PERIOD if _NOTICE_AFTER.match(after) or _NOTICE_BEFORE.search(before) else TermKind.DURATION
        yield Term(kind, match.start(), match.end(), match.group(0), value)


def _duration_count(match: re.Match) -> int | None:
    if match.group("digits"):
        return int(match.group("digits"))
    words = number_from_words(match.group("words"))
    if match.group("paren"):
        digits = int(match.group("paren"))
        # "thirty (30)": the figure in brackets is the contract's own restatement; if they disagree, trust neither.
        return digits if words in (None, digits) else None
    return words


# --- Money ---------------------------------------------------------------------------------------------

_SYMBOLS = {"$": "USD", "us$": "USD", "usd": "USD", "u.s.$": "USD", "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP",
            "¥": "JPY", "jpy": "JPY", "rmb": "CNY", "cny": "CNY", "chf": "CHF", "cad": "CAD", "c$": "CAD",
            "aud": "AUD", "a$": "AUD", "hk$": "HKD", "hkd": "HKD", "inr": "INR", "rs.": "INR", "sgd": "SGD",
            "s$": "SGD", "nt$": "TWD", "krw": "KRW", "₩": "KRW", "₹": "INR"}
_WORD_CURRENCIES = {"dollars": "USD", "us dollars": "USD", "u.s. dollars": "USD", "united states dollars": "USD",
                    "euros": "EUR", "euro": "EUR", "pounds sterling": "GBP", "british pounds": "GBP", "yen": "JPY",
                    "renminbi": "CNY", "yuan": "CNY", "swiss francs": "CHF", "canadian dollars": "CAD",
                    "australian dollars": "AUD", "hong kong dollars": "HKD", "singapore dollars": "SGD",
                    "rupees": "INR", "indian rupees": "INR"}
_SYMBOL = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_AMOUNT = r"(?P<amount>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SCALE = r"(?:\s*(?P<scale>million|billion|thousand|mm|m|bn|k)\b)?"
_WORD_CURRENCY = "|".join(re.escape(s) for s in sorted(_WORD_CURRENCIES, key=len, reverse=True))
_MONEY_PATTERNS = (
    # $1,500,000 / US$ 2.5 million / EUR 10,000
    re.compile(rf"(?<![A-Za-z])(?P<symbol>{_SYMBOL})\s?{_AMOUNT}{_SCALE}", re.IGNORECASE),
    # 10,000 Euros / 2.5 million U.S. dollars / 500 USD
    re.compile(rf"(?<![\w.,]){_AMOUNT}{_SCALE}\s+(?P<word>{_WORD_CURRENCY}|{_SYMBOL})(?![A-Za-z])", re.IGNORECASE),
)
_SCALES = {"thousand": 1_000, "k": 1_000, "million": 1_000_000, "mm": 1_000_000, "m": 1_000_000,
           "billion": 1_000_000_000, "bn": 1_000_000_000}


def money(text: str) -> Iterator[Term]:
    taken: list[tuple[int, int]] = []
    for pattern in _MONEY_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            marker = (match.groupdict().get("symbol") or match.groupdict().get("word") or "").lower()
            currency = _SYMBOLS.get(marker) or _WORD_CURRENCIES.get(" ".join(marker.split()))
            try:
                amount = Decimal(match.group("amount").replace(",", ""))
            except InvalidOperation:
                continue
            scale = (match.group("scale") or "").lower()
            amount *= _SCALES.get(scale, 1)
            taken.append((start, end))
            yield Term(TermKind.MONEY, start, end, match.group(0), f"{amount:.2f} {currency}")


# --- Percentages -----------------------------------------------------------------------------------------

_PERCENT = re.compile(
    rf"(?:\b(?P<words>{_NUMBER_WORDS})\s+percent\s*\((?P<paren>\d+(?:\.\d+)?)\s*%\)"
    rf"|(?<![\w.])(?P<digits>\d+(?:\.\d+)?)\s*(?:%|\s+per\s?cent\b)"
    rf"|\b(?P<only_words>{_NUMBER_WORDS})\s+per\s?cent\b)",
    re.IGNORECASE,
)


def percentages(text: str) -> Iterator[Term]:
    for match in _PERCENT.finditer(text):
        figure = match.group("paren") or match.group("digits")
        if figure is None:
            number = number_from_words(match.group("only_words"))
            if number is None:
                continue
            figure = str(number)
        yield Term(TermKind.PERCENTAGE, match.start(), match.end(), match.group(0), f"{Decimal(figure).normalize():f}%")


# --- Governing law and venue ---------------------------------------------------------------------------------

# The jurisdiction: "the State of New York", "England and Wales", "the Commonwealth of Massachusetts", "Delaware".
_PLACE = r"(?P<place>(?:the\s+)?(?:(?:State|Commonwealth|Province|Republic|Kingdom|People's\s+Republic)\s+of\s+)?" \
         r"[A-Z][A-Za-z.]+(?:[ -](?:[A-Z][A-Za-z.]+|and|of))*" \
         r"(?:,\s+(?:the\s+)?(?:State\s+of\s+)?[A-Z][A-Za-z.]+(?: [A-Z][A-Za-z.]+)*)?)"
_GOVERNING_LAW = re.compile(
    r"\b(?:governed\s+by|construed\s+(?:and\s+enforced\s+)?(?:in\s+accordance\s+with|under)|subject\s+to)"
    r"[^.;]{0,80}?\blaws?\s+of\s+" + _PLACE,
)
_VENUE = re.compile(
    r"\b(?:exclusive\s+(?:jurisdiction|venue)|jurisdiction\s+and\s+venue|venue|submit[s]?\s+to\s+the[^.;]{0,40}?jurisdiction)"
    r"[^.;]{0,160}?\bcourts?\s+(?:of|in|located\s+in|sitting\s+in|situated\s+in)\s+" + _PLACE,
)
_TRAILING_WORDS = re.compile(r"(?:[ -](?:and|of))+$")


def _place_term(kind: str, match: re.Match) -> Term:
    place = _TRAILING_WORDS.sub("", match.group("place"))
    last_word = place.split()[-1]
    if last_word.endswith(".") and "." not in last_word[:-1]:  # a sentence's full stop, not "D.C."
        place = place[:-1]
    start = match.start("place")
    value = re.sub(r"^the\s+", "", " ".join(place.split()))
    return Term(kind, match.start(), start + len(place), match.group(0)[: start + len(place) - match.start()], value)


def governing_law(text: str) -> Iterator[Term]:
    for match in _GOVERNING_LAW.finditer(text):
        yield _place_term(TermKind.GOVERNING_LAW, match)


def venues(text: str) -> Iterator[Term]:
    for match in _VENUE.finditer(text):
        yield _place_term(TermKind.VENUE, match)


# --- All of them -------------------------------------------------------------------------------------------

EXTRACTORS = (dates, durations, money, percentages, governing_law, venues)


def key_terms(text: str) -> list[Term]:
    """Every key term in reading order."""
    terms = [term for extract in EXTRACTORS for term in extract(text)]
    return sorted(terms, key=lambda term: (term.start, term.end, term.kind))

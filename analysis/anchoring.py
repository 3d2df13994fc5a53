"""Finds a quoted passage in a document's text and says which characters and pages it covers.

It must never report a span that does not slice the document's own text, nor a page the span
does not touch; a quote it cannot place is answered with None, never with a guess below threshold.
"""

from __future__ import annotations

import copy
import math
import re
import unicodedata
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

DEFAULT_FUZZY_THRESHOLD = 0.9


class PageSpan(Protocol):
    """What anchoring needs of a page; analysis.ingest.document.Page has it."""

    @property
    def number(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class Anchor:
    """Where a quote sits: document.text[start:end] is the passage itself."""

    start: int  # offset into the document text of the passage's first character
    end: int  # exclusive
    pages: tuple[int, ...]  # 1-based numbers of every page holding part of the passage
    exact: bool  # found after folding alone, with no fuzzy alignment
    score: float  # 1.0 when exact, else the alignment's similarity in [0, 1]


# --- Folding ---------------------------------------------------------------------------------
# Both the document and the quote go through the same folding, so anything it does is harmless
# as long as it is done to both; what it buys is that typography a model or a PDF reader changes
# (quotes, dashes, ligatures, line breaks, case) stops mattering.

# Public: the benchmarks fold the same quote characters (bench/clause_finder.py).
SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u0060\u00b4\u02b9\u02bb\u02bc\u02bd\uff07"
DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e\u301f\uff02"
# Hyphens, dashes and minus signs; U+FFFE is how PDFium reports a hyphen at a line's end.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d\u2e3a\u2e3b\ufffe"
_SOFT_HYPHEN = "\u00ad"
# Invisible characters that only steer layout: zero-width space and joiners, word joiner,
# byte-order mark. PDFs and web pages sprinkle them inside words.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"

_TABLE: dict[str, str] = {
    **{c: "'" for c in SINGLE_QUOTES},
    **{c: '"' for c in DOUBLE_QUOTES},
    **{c: "-" for c in _DASHES},
    **{c: "" for c in _INVISIBLE},
    _SOFT_HYPHEN: _SOFT_HYPHEN,  # kept for stage two, which removes it
}


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """Fold one non-ASCII character: typography table, else compatibility form and case."""
    if char in _TABLE:
        return _TABLE[char]
    if char.isspace():
        return " "
    # Decomposed (NFKD) rather than composed: applied one character at a time it gives the same
    # result for "é" and for "e" + combining accent, which NFKC per character would not.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
    folded = "".join(_TABLE.get(c, c) for c in folded)
    # Spacing accents decompose to space + combining mark; the space is not a word break.
    return folded.replace(" ", "") if folded.strip() else folded


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")

# Everything stage two rewrites; plain text between matches is copied as it is.
_IRREGULAR = re.compile(
    # A hyphen or dash between letters, with or without white space around it. Whether a word
    # broken at a line's end was "agree-ment" or "non-exclusive" cannot be known, readers and
    # quotes disagree ("non- exclusive", "nonexclusive", "non-exclusive") and a model types "-"
    # for the text's "–" or "—", with or without spaces: between letters, every one goes.
    r"(?P<join>(?<=[^\W\d_])\s*(?:-+|\u00ad)\s*(?=[^\W\d_]))"
    r"|(?P<soft>\s*\u00ad\s*)"  # elsewhere a soft hyphen is nothing, the space around it one
    r"|(?P<dash>\s*-{2,}\s*|\s+-\s*|-\s+)"  # "--", " - ", "- ": spacing around dashes varies
    r"|(?P<space>\s{2,}|[^\S ])"  # any run of white space other than one plain space
)


@dataclass(frozen=True)
class Folded:
    """A folded copy of a text and, for each of its characters, the index it came from."""

    text: str
    origin: array  # array('i'): origin[i] is the original index of text[i]


def fold(text: str) -> Folded:
    """Fold `text` for matching, keeping a map back to original offsets. Linear in len(text)."""
    # Stage one: one character at a time (case, compatibility forms, quotes, dashes, invisibles).
    if text.isascii():
        stage_one = text.lower()
        origin_one: array | None = None  # identity: nothing changed length
    else:
        parts: list[str] = []
        origin_one = array("i")
        position = 0
        for match in _NON_ASCII.finditer(text):
            if match.start() > position:
                parts.append(text[position : match.start()].lower())
                origin_one.extend(range(position, match.start()))
            for index in range(match.start(), match.end()):
                folded = _fold_char(text[index])
                if folded:
                    parts.append(folded)
                    origin_one.extend([index] * len(folded))
            position = match.end()
        parts.append(text[position:].lower())
        origin_one.extend(range(position, len(text)))
        stage_one = "".join(parts)
        del parts

    # Stage two: only deletions and white-space collapsing, so every kept character keeps its origin.
    parts = []
    origin = array("i")

    def keep(start: int, end: int) -> None:
        if end > start:
            parts.append(stage_one[start:end])
            origin.extend(range(start, end) if origin_one is None else origin_one[start:end])

    def keep_one(char: str, at: int) -> None:
        parts.append(char)
        origin.append(at if origin_one is None else origin_one[at])

    position = 0
    for match in _IRREGULAR.finditer(stage_one):
        start, end = match.span()
        keep(position, start)
        kind = match.lastgroup  # "join" keeps nothing
        if kind == "dash":
            keep_one("-", start + match.group().index("-"))
        elif kind == "space" or (kind == "soft" and end - start > 1):
            keep_one(" ", start + (stage_one[start] == _SOFT_HYPHEN))
        position = end
    keep(position, len(stage_one))
    return Folded("".join(parts), origin)


def fold_quote(quote: str) -> str:
    """The folded form of a quote, without the white space at its ends."""
    return fold(quote).text.strip(" ")


# --- Pages -----------------------------------------------------------------------------------


def pages_for_span(start: int, end: int, pages: Sequence[PageSpan]) -> tuple[int, ...]:
    """Numbers of the pages (sorted by offset) that hold at least one character of [start, end)."""
    first = max(bisect_right(pages, start, key=lambda page: page.start) - 1, 0)
    numbers = []
    for page in pages[first:]:
        if page.start >= end:
            break
        # An empty page holds no character of the passage, even when the passage runs across it.
        if max(start, page.start) < min(end, page.end):
            numbers.append(page.number)
    return tuple(numbers)


# --- Matching --------------------------------------------------------------------------------

# Fuzzy search seeds candidate places from a few runs of words of the quote that the document
# contains verbatim, then aligns the quote only there: never the whole document.
_SEEDS = 8
_SEED_WORDS = 3
_MAX_SEED_HITS = 16
_MAX_CANDIDATES = 24
# Candidate windows are the quote's length plus this share of it on each side (about 1.3x).
_WINDOW_SLACK = 0.15


class AnchorIndex:
    """One document folded once, to anchor many quotes against it."""

    def __init__(self, text: str, pages: Sequence[PageSpan] = ()) -> None:
        self.text = text
        self.pages = tuple(pages)
        self._folded = fold(text)
        # Both built on the first quote that needs them.
        self._spaceless: Folded | None = None
        self._furniture: re.Pattern[str] | None = None

    def find(self, quote: str, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD) -> Anchor | None:
        """The first exact place of `quote` after folding, else the best fuzzy one, else None."""
        needle = fold_quote(quote)
        if not needle:
            return None
        for found in self._exact_anchors(needle):
            return found
        fuzzy = self._fuzzy(needle, fuzzy_threshold)
        if fuzzy is None:
            return None
        start, end, score = fuzzy
        return self._anchor(start, end, exact=False, score=score)

    def find_all(self, quote: str) -> tuple[Anchor, ...]:
        """Every exact place of `quote` after folding, in document order (overlaps included)."""
        needle = fold_quote(quote)
        return tuple(self._exact_anchors(needle)) if needle else ()

    def with_pages(self, pages: Sequence[PageSpan]) -> AnchorIndex:
        """The same text with other page offsets, without folding it again."""
        other = copy.copy(self)
        other.pages = tuple(pages)
        other._furniture = None
        return other

    def _exact_anchors(self, needle: str) -> Iterator[Anchor]:
        found = False
        for start, end in self._exact_spans(needle):
            found = True
            yield self._anchor(start, end, exact=True, score=1.0)
        if found:
            return
        # A quote copied from the page as printed carries the running header, footer or page
        # number the reader set aside (CUAD's own text keeps "Source: ... 8-K" inside passages).
        # Without them it is exact, but only where it runs across a page break, where they sat.
        if self._furniture is None:
            self._furniture = _furniture_pattern(self.pages)
        if self._furniture is _NOTHING:
            return
        stripped = re.sub(" {2,}", " ", self._furniture.sub(" ", needle)).strip(" ")
        if not stripped or stripped == needle:
            return
        for start, end in self._exact_spans(stripped):
            anchored = self._anchor(start, end, exact=True, score=1.0)
            if len(anchored.pages) > 1:
                yield anchored

    def _exact_spans(self, needle: str) -> Iterator[tuple[int, int]]:
        """Folded-text spans equal to `needle`; failing any, those equal but for white space."""
        haystack = self._folded.text
        at = haystack.find(needle)
        if at >= 0:
            while at >= 0:
                yield at, at + len(needle)
                at = haystack.find(needle, at + 1)
            return
        # Text layers split and join words at line and glyph boundaries ("24t h", "PartyA" for
        # "Party\nA"), so a quote may differ from the text only in where its spaces fall.
        if self._spaceless is None:
            self._spaceless = _without_spaces(haystack)
        squeezed = needle.replace(" ", "")
        spaceless, origin = self._spaceless.text, self._spaceless.origin
        at = spaceless.find(squeezed)
        while at >= 0:
            start, end = origin[at], origin[at + len(squeezed) - 1] + 1
            # Only whole words: "Party A" must not be found inside "party administrator".
            if _is_word_edge(haystack, start) and _is_word_edge(haystack, end):
                yield start, end
            at = spaceless.find(squeezed, at + 1)

    def _anchor(self, start: int, end: int, *, exact: bool, score: float) -> Anchor:
        origin = self._folded.origin
        # The last folded character may stand for part of a wider one ("ﬁ" -> "fi"): end after it.
        real_start, real_end = origin[start], origin[end - 1] + 1
        return Anchor(
            start=real_start,
            end=real_end,
            pages=pages_for_span(real_start, real_end, self.pages),
            exact=exact,
            score=score,
        )

    def _fuzzy(self, needle: str, threshold: float) -> tuple[int, int, float] | None:
        """Folded-text span and score of the passage most like `needle`, if any reaches threshold."""
        haystack = self._folded.text
        slack = max(16, int(len(needle) * _WINDOW_SLACK))
        # A passage can only reach `threshold` if it shares this many characters, in order, with
        # the quote (ratio = 2·common / (len(quote) + len(passage)) and len(passage) >= common);
        # checking that first is cheap and spares the costly alignment most hopeless windows.
        min_common = math.ceil(threshold * len(needle) / (2 - threshold))
        best: tuple[float, int, int] | None = None
        for guesses in _candidate_rounds(haystack, needle, slack):
            for guess in guesses:
                low = max(0, guess - slack)
                window = haystack[low : guess + len(needle) + slack]
                if LCSseq.similarity(needle, window, score_cutoff=min_common) < min_common:
                    continue
                # partial_ratio scores a stretch exactly as long as the quote, so a quote with k
                # characters the passage lacks scores about 1 - k/n there but up to threshold once
                # _refine trims the stretch: let through what trimming could lift to threshold.
                aligned = fuzz.partial_ratio_alignment(
                    needle, window, score_cutoff=100 * threshold / (2 - threshold)
                )
                if aligned is None:
                    continue
                start, end, score = _refine(needle, window, aligned.dest_start, aligned.dest_end, slack)
                if best is None or score > best[0]:
                    best = (score, low + start, low + end)
            if best is not None and best[0] >= threshold * 100:
                break
        if best is None or best[0] < threshold * 100 or best[2] <= best[1]:
            return None
        score, start, end = best
        return start, end, score / 100


# Furniture shorter than this ("12", "ii") is only stripped next to longer furniture: alone it
# cannot be told from the same characters in the passage ("within 12 days").
_MIN_FURNITURE = 6
_NOTHING = re.compile(r"(?!)")


def _furniture_pattern(pages: Sequence[PageSpan]) -> re.Pattern[str]:
    """A pattern for the folded furniture of `pages`, with the page numbers next to it."""
    folded = {fold_quote(line) for page in pages for line in getattr(page, "furniture", ())}
    longer = sorted((line for line in folded if len(line) >= _MIN_FURNITURE), key=len, reverse=True)
    if not longer:
        return _NOTHING
    pattern = "|".join(map(re.escape, longer))
    shorter = sorted((line for line in folded if 0 < len(line) < _MIN_FURNITURE), key=len, reverse=True)
    if shorter:
        number = "|".join(map(re.escape, shorter))
        pattern = rf"(?:(?<![^ ])(?:{number}) )?(?:{pattern})(?: (?:{number})(?![^ ]))?"
    return re.compile(pattern)


def _without_spaces(folded: str) -> Folded:
    """`folded` without its spaces; origin maps back to offsets in `folded`."""
    origin = array("i")
    position = 0
    for word in folded.split(" "):
        origin.extend(range(position, position + len(word)))
        position += len(word) + 1
    return Folded(folded.replace(" ", ""), origin)


def _is_word_edge(text: str, at: int) -> bool:
    return at == 0 or at == len(text) or not (text[at - 1].isalnum() and text[at].isalnum())


def _candidate_rounds(haystack: str, needle: str, slack: int) -> Iterator[list[int]]:
    """Likely offsets of the quote's start, in rounds, each most-voted first.

    Round one looks only where each seed first occurs, which costs at most one pass over the
    document per seed; round two, for a passage that is not the first of its kind, looks further.
    """
    seeds = _seeds(needle)
    bucket = max(slack, 1)
    tried: set[int] = set()

    def ranked(hits_by_seed: list[list[int]]) -> list[int]:
        votes: Counter[int] = Counter()
        for hits in hits_by_seed:
            for hit in hits:
                votes[max(0, hit) // bucket] += 1
        fresh = [key for key, _ in votes.most_common() if key not in tried][: _MAX_CANDIDATES - len(tried)]
        tried.update(fresh)
        return [key * bucket for key in fresh]

    firsts = [haystack.find(seed) for _, seed in seeds]
    yield ranked([[at - offset] for (offset, _), at in zip(seeds, firsts) if at >= 0])
    more: list[list[int]] = []
    for (offset, seed), at in zip(seeds, firsts):
        hits = []
        while at >= 0 and len(hits) < _MAX_SEED_HITS:
            hits.append(at - offset)
            at = haystack.find(seed, at + 1)
        # A seed found all over the document says little about where the quote is.
        if at < 0:
            more.append(hits)
    yield ranked(more)


def _seeds(needle: str) -> list[tuple[int, str]]:
    """A few runs of words (offset in needle, text) from every part of the quote.

    From every part, so noise in one part cannot hide them all; in each part the longest run of
    a few words, as the least likely to occur anywhere else.
    """
    words = [(match.start(), match.end()) for match in re.finditer(r"\S+", needle)]
    size = min(_SEED_WORDS, len(words))
    parts = min(_SEEDS, max(1, len(words) // size))
    seeds = []
    for part in range(parts):
        first, last = part * len(words) // parts, (part + 1) * len(words) // parts
        runs = [(words[i][0], words[i + size - 1][1]) for i in range(first, max(first + 1, last - size + 1))]
        start, end = max(runs, key=lambda run: run[1] - run[0])
        seeds.append((start, needle[start:end]))
    return seeds


def _refine(needle: str, window: str, start: int, end: int, slack: int) -> tuple[int, int, float]:
    """Move an alignment's ends to the word boundaries that make it most like the quote."""
    # partial_ratio aligns a stretch exactly as long as the quote; a quote with a word more or
    # less than the passage needs its ends moved to cover the passage and nothing else.
    def starts() -> list[int]:
        low, high = max(0, start - slack), min(len(window), start + slack)
        return [start] + [i for i in range(low, high) if i == 0 or window[i - 1] == " "]

    def ends(from_: int) -> list[int]:
        low, high = max(from_ + 1, end - slack), min(len(window), end + slack)
        return [end] + [i for i in range(low, high + 1) if i == len(window) or window[i] == " "]

    best_start = max(starts(), key=lambda s: fuzz.ratio(needle, window[s:end]) if s < end else -1)
    best_end = max(ends(best_start), key=lambda e: fuzz.ratio(needle, window[best_start:e]))
    # White space at the edges belongs to neither the quote nor the passage.
    while best_start < best_end and window[best_start] == " ":
        best_start += 1
    while best_end > best_start and window[best_end - 1] == " ":
        best_end -= 1
    return best_start, best_end, fuzz.ratio(needle, window[best_start:best_end])


# --- Conveniences ----------------------------------------------------------------------------

# The index of the last document anchored through anchor(), so a loop over one document's
# quotes folds it once; one document's worth of memory at most.
_last_index: AnchorIndex | None = None


def anchor(
    document_text: str,
    quote: str,
    pages: Sequence[PageSpan],
    *,
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
) -> Anchor | None:
    """Anchor one quote; prefer AnchorIndex when anchoring many quotes in one document."""
    global _last_index
    index = _last_index
    if index is None or not (index.text is document_text or index.text == document_text):
        index = AnchorIndex(document_text, pages)
        _last_index = index
    elif tuple(pages) != index.pages:
        index = index.with_pages(pages)
    return index.find(quote, fuzzy_threshold=fuzzy_threshold)


def find_span(
    text: str, quote: str, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD
) -> tuple[int, int] | None:
    """Offsets [start, end) of `quote` in `text`, exactly after folding or fuzzily, else None."""
    found = anchor(text, quote, (), fuzzy_threshold=fuzzy_threshold)
    return None if found is None else (found.start, found.end)

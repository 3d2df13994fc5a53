"""A contract's skeleton read from its text: numbered sections and their headings, defined terms with their
definitions and every use, cross-references resolved to the sections they name, the parties block with each
party's name and short name, and the signature blocks.

Contracts reach us as PDF text with line breaks, or as CUAD-style text where a whole article can sit on one
line, so a number only starts a section where a line starts or a sentence has just ended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A numbered section, article or list item. text[start:end] is its number and heading (or its number
    alone where it has none); `body_end` is where the next section of the same or a higher level starts."""

    number: str  # as written: "12.3", "(a)", "Article IV"
    label: str  # the full path a reference would use: "12.3", "12.3(a)", "Article IV"
    level: int  # 1 for articles and top-level numbers, deeper for each nesting
    title: str | None
    start: int
    end: int
    body_end: int


@dataclass(frozen=True)
class DefinedTerm:
    term: str
    start: int  # the term itself, quotes excluded, where it is defined
    end: int
    definition_start: int  # the sentence (or preamble clause) that defines it
    definition_end: int
    uses: tuple[tuple[int, int], ...]  # every later occurrence, as (start, end)


@dataclass(frozen=True)
class CrossReference:
    start: int
    end: int
    text: str
    target: str  # the label referred to, e.g. "12.3(b)"
    section_start: int | None  # where that section starts; None when the document has no such section


@dataclass(frozen=True)
class Party:
    name: str
    start: int
    end: int
    short_name: str | None
    short_start: int | None
    short_end: int | None


@dataclass(frozen=True)
class PartiesBlock:
    start: int
    end: int
    parties: tuple[Party, ...]


@dataclass(frozen=True)
class SignatureBlock:
    start: int
    end: int
    signatory: str | None  # the "Name:" line's value, when there is one
    title: str | None  # the "Title:" line's value


@dataclass(frozen=True)
class Structure:
    sections: tuple[Section, ...]
    defined_terms: tuple[DefinedTerm, ...]
    cross_references: tuple[CrossReference, ...]
    parties: PartiesBlock | None
    signatures: tuple[SignatureBlock, ...]


# --- Sections ------------------------------------------------------------------------------------------------

# A section can start at a line start or right after a sentence or heading ends.
_BOUNDARY = r"(?:(?<=\n)|(?<=^)|(?<=[.:;]\s)|(?<=[.:;]\s\s))[ \t]*"
_ARTICLE = re.compile(_BOUNDARY + r"(?P<number>(?:ARTICLE|Article)\s+(?P<value>[IVXLC]+|\d+))\b[.:\-\u2013\u2014 ]*")
_SECTION_WORD = re.compile(_BOUNDARY + r"(?P<number>(?:SECTION|Section)\s+(?P<value>\d+(?:\.\d+)*))\.?\s+(?=[A-Z(])")
_DECIMAL = re.compile(_BOUNDARY + r"(?P<number>(?P<value>\d{1,3}(?:\.\d{1,3})*)\.?)[ \t]+(?=[A-Z\"\u201c(])")
# At a line's start a numbered paragraph may begin with any word ("4. mPhase agrees"), but a bare integer there
# needs its full stop: a wrapped line can start with "30 days".
_DECIMAL_LINE = re.compile(r"(?:(?<=\n)|(?<=^))[ \t]*(?P<number>(?P<value>\d{1,3}\.|\d{1,3}(?:\.\d{1,3})+\.?))[ \t]+(?=[a-z])")
_PAREN = re.compile(_BOUNDARY + r"(?P<number>\((?P<value>[a-z]{1,2}|[ivx]{1,5}|\d{1,2})\))\s+(?=\S)")
_TITLE = re.compile(r"(?P<title>[A-Z][A-Za-z'\u2019&/,\- ]{1,80}?)(?:\.(?=\s)|:|\n|$)")
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def _roman(value: str) -> int:
    total = 0
    for char, following in zip(value.lower(), value.lower()[1:] + " "):
        number = _ROMAN[char]
        total += -number if following != " " and _ROMAN.get(following, 0) > number else number
    return total


def _title_after(text: str, at: int) -> tuple[str | None, int]:
    """A short heading that starts at `at` (capitalised words, ended by a period, colon or line end)."""
    match = _TITLE.match(text, at)
    if not match:
        return None, at
    title = match.group("title").strip()
    words = title.split()
    # A heading is a few words, each capitalised (or a short joining word); a sentence is not.
    capitalised = sum(1 for word in words if word[0].isupper() or word.lower() in {"and", "of", "the", "to", "in", "or", "for", "on"})
    if not words or len(words) > 10 or capitalised < len(words):
        return None, at
    return title, match.end()


def _numbering_level(kind: str, value: str, previous_letter: str | None) -> tuple[int, str]:
    """The nesting level of a number and its kind ("article", "decimal", "letter", "roman", "digit")."""
    if kind == "article":
        return 1, "article"
    if kind == "decimal":
        return 1 + value.count("."), "decimal"
    if value.isdigit():
        return 5, "digit"
    # (i) after (h) is a letter; otherwise i, v, x... are roman numerals one level below the letters.
    if re.fullmatch(r"[ivx]+", value) and not (value == "i" and previous_letter == "h") \
            and not (value in {"v", "x"} and previous_letter in {"u", "w"}):
        return 4, "roman"
    return 3, "letter"


def sections(text: str) -> tuple[Section, ...]:
    found: list[tuple[int, int, str, str]] = []  # (start, number end, kind, value / number)
    taken: set[int] = set()
    for kind, pattern in (("article", _ARTICLE), ("article", _SECTION_WORD), ("decimal", _DECIMAL),
                          ("decimal", _DECIMAL_LINE), ("paren", _PAREN)):
        for match in pattern.finditer(text):
            start = match.start("number")
            if start in taken:
                continue
            taken.add(start)
            found.append((start, match.end(), kind if pattern is not _SECTION_WORD else "decimal",
                          match.group("number") if kind == "article" and pattern is _ARTICLE else match.group("value")))
    found.sort()

    result: list[Section] = []
    stack: list[tuple[int, str]] = []  # (level, label) of the open sections
    previous_letter: str | None = None
    last_decimal: list[int] | None = None
    for start, number_end, kind, value in found:
        if kind == "paren":
            level, sub_kind = _numbering_level("paren", value, previous_letter)
            if sub_kind == "letter":
                previous_letter = value
            number = f"({value})"
        elif kind == "article":
            level, number = 1, " ".join(value.split()) if not value[0].isdigit() else value
            if not number.lower().startswith("article"):
                number = value
        else:
            parts = [int(p) for p in value.strip(".").split(".")]
            # A bare integer in prose ("within 5 Business Days") is a section only when it continues the numbering.
            if last_decimal is not None and not _continues(last_decimal, parts):
                continue
            if last_decimal is None and parts not in ([1], [1, 1], [1, 0]) and len(found) > 1:
                continue
            last_decimal = parts
            level, number = len(parts), value.strip(".")
            previous_letter = None
        title, title_end = _title_after(text, number_end)
        while stack and stack[-1][0] >= level:
            stack.pop()
        if kind == "paren" and stack:
            label = stack[-1][1] + number
        elif kind == "article" and number.lower().startswith("article"):
            label = "Article " + number.split()[-1]
        else:
            label = number
        stack.append((level, label))
        result.append(Section(number=number, label=label, level=level, title=title, start=start,
                              end=title_end if title else number_end, body_end=len(text)))

    # Each section runs to where the next one of the same or a higher level starts.
    closed: list[Section] = []
    for index, section in enumerate(result):
        body_end = len(text)
        for later in result[index + 1:]:
            if later.level <= section.level:
                body_end = later.start
                break
        closed.append(Section(**{**section.__dict__, "body_end": body_end}))
    return tuple(closed)


def _continues(previous: list[int], current: list[int]) -> bool:
    """Whether `current` can follow `previous` in one outline: 3.2 -> 3.3, 3.2 -> 4, 3.2 -> 3.2.1, 3 -> 3.1."""
    if len(current) > len(previous) + 1:
        return False
    if len(current) == len(previous) + 1:
        return current[:-1] == previous and current[-1] in (0, 1)
    prefix = previous[:len(current)]
    return current[:-1] == prefix[:-1] and 0 < current[-1] - prefix[-1] <= 2


# --- Defined terms ---------------------------------------------------------------------------------------------

_QUOTED = r"[\"\u201c\u201d](?P<term>[A-Z0-9][^\"\u201c\u201d\n]{0,60}?)[\"\u201c\u201d]"
_PARENTHETICAL = re.compile(r"\((?P<inside>[^()]{0,200}?" + _QUOTED + r"[^()]{0,120}?)\)")
_MEANS = re.compile(_QUOTED + r"\s*(?:\([^)]{0,40}\)\s*)?(?:shall\s+)?(?:means?|has\s+the\s+meaning|shall\s+have\s+the\s+meaning"
                    r"|includes?|refers?\s+to|is\s+defined)\b")
_QUOTED_ANY = re.compile(_QUOTED)
_SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-Z(\"\u201c]|\d+\.)|\n\s*\n")


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    window_start = max(0, start - 1500)
    before = [m.end() for m in _SENTENCE_END.finditer(text, window_start, start)]
    sentence_start = before[-1] if before else window_start if window_start else 0
    after = _SENTENCE_END.search(text, end, min(len(text), end + 1500))
    sentence_end = after.start() if after else min(len(text), end + 1500)
    return sentence_start, sentence_end


def defined_terms(text: str) -> tuple[DefinedTerm, ...]:
    definitions: dict[str, tuple[int, int, int, int]] = {}
    for match in _MEANS.finditer(text):
        term = match.group("term").strip()
        if term not in definitions:
            sentence_start, sentence_end = _sentence_around(text, match.start(), match.end())
            definitions[term] = (match.start("term"), match.end("term"), match.start(), sentence_end)
    for match in _PARENTHETICAL.finditer(text):
        for quoted in _QUOTED_ANY.finditer(match.group("inside")):
            term = quoted.group("term").strip()
            if term in definitions or len(term) < 2:
                continue
            offset = match.start("inside")
            sentence_start, _ = _sentence_around(text, match.start(), match.end())
            definitions[term] = (offset + quoted.start("term"), offset + quoted.end("term"), sentence_start, match.end())

    uses = _uses(text, definitions)
    result = [DefinedTerm(term=term, start=start, end=end, definition_start=definition_start,
                          definition_end=definition_end, uses=tuple(uses[term]))
              for term, (start, end, definition_start, definition_end) in definitions.items()]
    return tuple(sorted(result, key=lambda t: t.start))


_WORD_AT = re.compile(r"\w+")


def _uses(text: str, definitions: dict[str, tuple[int, int, int, int]]) -> dict[str, list[tuple[int, int]]]:
    """Every occurrence of every term, in one pass over the text's words: a bundle of contracts can define
    thousands of terms, and one search per term would read the whole text thousands of times."""
    by_first_word: dict[str, list[str]] = {}
    for term in definitions:
        first = _WORD_AT.match(term)
        if first:
            by_first_word.setdefault(first.group(0), []).append(term)
    for terms in by_first_word.values():
        terms.sort(key=len, reverse=True)
    found: dict[str, list[tuple[int, int]]] = {term: [] for term in definitions}
    for word in _WORD_AT.finditer(text):
        terms = by_first_word.get(word.group(0))
        if not terms:
            continue
        at = word.start()
        if at and (text[at - 1].isalnum() or text[at - 1] in "_\"\u201c"):
            continue
        for term in terms:  # longest first: "Effective Date" wins over "Effective"
            end = at + len(term)
            if text.startswith(term, at) and (end == len(text) or not (text[end].isalnum() or text[end] in "_\"\u201d")):
                start, stop = definitions[term][:2]
                if not start <= at < stop:
                    found[term].append((at, end))
                break
    return found


# --- Cross-references ---------------------------------------------------------------------------------------

_REFERENCE_WORD = r"(?P<word>Sections?|SECTIONS?|Articles?|ARTICLES?|Clauses?|Paragraphs?|\u00a7\u00a7?)"
_REFERENCE_NUMBER = r"\d{1,3}(?:\.\d{1,3})*(?:\([a-z0-9ivx]{1,5}\))*|[IVXLC]{1,6}\b"
_REFERENCE = re.compile(_REFERENCE_WORD + r"\s*(?P<numbers>(?:" + _REFERENCE_NUMBER + r")(?:(?:\s*,\s*|\s+(?:and|or|through|to)\s+)(?:"
                        + _REFERENCE_NUMBER + r"))*)")
_ONE_NUMBER = re.compile(_REFERENCE_NUMBER)


def cross_references(text: str, found_sections: tuple[Section, ...]) -> tuple[CrossReference, ...]:
    by_label = {}
    for section in found_sections:
        by_label.setdefault(section.label, section)
    # "Article IV" and "Article 4" name the same article.
    for section in found_sections:
        if section.label.startswith("Article "):
            value = section.label.split()[-1]
            by_label.setdefault(str(_roman(value)) if re.fullmatch(r"[IVXLC]+", value) else value, section)
    heading_spans = {(s.start, s.end) for s in found_sections}
    result = []
    for match in _REFERENCE.finditer(text):
        if any(start <= match.start() < end for start, end in heading_spans):
            continue  # the heading "Section 3.2 Term." is not a reference to itself
        is_article = match.group("word").lower().startswith("article")
        for number in _ONE_NUMBER.finditer(match.group("numbers")):
            value = number.group(0)
            target = value
            if is_article and re.fullmatch(r"[IVXLC]+", value):
                target = str(_roman(value))
            section = by_label.get(target) or by_label.get(re.sub(r"\(.*", "", target))
            if is_article and section is None:
                section = by_label.get("Article " + value)
            start = match.start("numbers") + number.start()
            if number.start() == 0:
                start = match.start()
            result.append(CrossReference(start=start, end=match.start("numbers") + number.end(),
                                         text=text[start:match.start("numbers") + number.end()], target=value,
                                         section_start=section.start if section else None))
    return tuple(result)


# --- Parties ------------------------------------------------------------------------------------------------

_BETWEEN = re.compile(r"\b(?:by\s+and\s+(?:between|among)|between|among)\b", re.IGNORECASE)
_PREAMBLE_CHARS = 6000
_SUFFIXES = {"inc", "llc", "l.l.c", "ltd", "limited", "corp", "corporation", "co", "n.a", "s.a", "gmbh", "ag", "plc",
             "b.v", "lp", "l.p", "llp", "pte", "s.a.r.l", "sarl", "pty", "kg", "nv", "n.v", "se", "spa", "s.p.a", "incorporated"}
_NAME_JOINERS = {"&", "of", "de", "du", "la", "der", "von", "van", "y", "and"}
_WORD = re.compile(r"\S+")
# Where one party's part of the preamble ends and the next one's begins: "...("PivX") and Detto...",
# "...; and", "...Singapore and Ability...". Only outside brackets, and only before a capitalised word.
_PARTY_SEPARATOR = re.compile(r"(?:\)\s*,?|;|,)?\s+and\s+(?=[A-Z0-9])|;\s*(?=[A-Z0-9])")


def _name_at(text: str, at: int, limit: int) -> tuple[int, int] | None:
    """The run of capitalised words (with corporate suffixes and joiners) that starts at `at`."""
    end = None
    words = list(_WORD.finditer(text, at, limit))
    for index, match in enumerate(words[:14]):
        word = match.group(0)
        bare = word.strip(",.").lower()
        if word.startswith(("(", "[", "\"", "\u201c")):
            break
        capital = word[0].isupper() or word[0].isdigit()
        if not (capital or bare in _SUFFIXES or (bare in _NAME_JOINERS and index > 0)):
            break
        if bare == "and" and not (index + 1 < len(words) and words[index + 1].group(0)[0].isupper()):
            break
        end = match.end()
        if word.endswith(","):
            following = words[index + 1].group(0).strip(",.").lower() if index + 1 < len(words) else ""
            if following not in _SUFFIXES:
                end -= 1
                break
    if end is None:
        return None
    while end > at and text[end - 1] in ",;:":
        end -= 1
    name = text[at:end]
    last = name.split()[-1].lower() if name.split() else ""
    if last in _NAME_JOINERS or name.lower() in {"the", "this", "each", "agreement"}:
        return None
    return at, end


def _top_level_separators(text: str, start: int, end: int) -> list[tuple[int, int]]:
    depth = 0
    cuts = []
    index = start
    while index < end:
        char = text[index]
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        if depth == 0:
            match = _PARTY_SEPARATOR.match(text, index)
            if match and match.end() <= end and match.end() > index:
                cuts.append((match.start(), match.end()))
                index = match.end()
                continue
        index += 1
    return cuts


def _short_names(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """(term, start, end) of every quoted name in brackets in [start, end): a preamble's ("PivX"). Read from the
    text itself, not from defined_terms(), which keeps only a term's first definition and that may be elsewhere."""
    found = []
    for match in _PARENTHETICAL.finditer(text, start, end):
        for quoted in _QUOTED_ANY.finditer(match.group("inside")):
            offset = match.start("inside")
            found.append((quoted.group("term").strip(), offset + quoted.start("term"), offset + quoted.end("term")))
    return found


def parties_block(text: str) -> PartiesBlock | None:
    head = text[:_PREAMBLE_CHARS]
    # A title page may say "BY AND BETWEEN X AND Y" before the preamble does, and in PDF text nothing but line
    # breaks may separate the two. The preamble is the first sentence whose "between" is followed by the short
    # names it gives; within it, the last "between" before them is the one the names follow.
    between = start = end = fallback = None
    for match in _BETWEEN.finditer(head):
        sentence = _sentence_around(text, match.start(), match.end())
        fallback = fallback or (match, sentence)
        if _short_names(text, match.end(), sentence[1]):
            if between is not None and sentence != (start, end):
                break
            between, (start, end) = match, sentence
        elif between is not None:
            break
    if between is None and fallback is not None:
        between, (start, end) = fallback
    if between is None:
        return None
    short_names = _short_names(text, between.end(), end)
    chunks, cursor = [], between.end()
    for cut_start, cut_end in _top_level_separators(text, between.end(), end):
        chunks.append((cursor, cut_start))
        cursor = cut_end
    chunks.append((cursor, end))
    parties = []
    for chunk_start, chunk_end in chunks:
        at = chunk_start
        while at < chunk_end and text[at] in " \t\n:,":
            at += 1
        span = _name_at(text, at, chunk_end)
        short = next((t for t in short_names if chunk_start <= t[1] < chunk_end), None)
        if span is None:
            continue
        short_name, short_start, short_end = short or (None, None, None)
        parties.append(Party(name=text[span[0]:span[1]], start=span[0], end=span[1], short_name=short_name,
                             short_start=short_start, short_end=short_end))
    return PartiesBlock(start=start, end=end, parties=tuple(parties))


# --- Signature blocks ----------------------------------------------------------------------------------------

_WITNESS = re.compile(r"IN\s+WITNESS\s+WHEREOF|Signature\s+Page|EXECUTED\s+as", re.IGNORECASE)
_BY_LINE = re.compile(r"\bBy\s*:")
_FIELD = re.compile(r"\b(?P<field>Name|Title|Its|Date)\s*:\s*[_ \t]*(?P<value>[^\n:]*?)(?=\s+(?:Name|Title|Its|Date|By)\s*:|\n|$)")


def signature_blocks(text: str) -> tuple[SignatureBlock, ...]:
    witness = _WITNESS.search(text)
    if witness is None:
        return ()
    blocks = []
    by_lines = list(_BY_LINE.finditer(text, witness.start()))
    for index, by in enumerate(by_lines):
        limit = by_lines[index + 1].start() if index + 1 < len(by_lines) else min(len(text), by.end() + 400)
        fields = {}
        end = by.end()
        for field in _FIELD.finditer(text, by.start(), limit):
            key = field.group("field").lower()
            if key == "its":
                key = "title"
            if key not in fields:
                fields[key] = field.group("value").strip(" _") or None
                end = max(end, field.end())
        # The block starts at the line above "By:", which names the signing party in most contracts.
        line_above = text.rfind("\n", witness.start(), max(witness.start(), by.start() - 1))
        start = text.rfind("\n", witness.start(), max(witness.start(), line_above)) + 1 if line_above > 0 else by.start()
        blocks.append(SignatureBlock(start=max(start, witness.start()), end=end, signatory=fields.get("name"),
                                     title=fields.get("title")))
    if not blocks:
        sentence_start, sentence_end = _sentence_around(text, witness.start(), witness.end())
        blocks.append(SignatureBlock(start=witness.start(), end=sentence_end, signatory=None, title=None))
    return tuple(blocks)


def structure(text: str) -> Structure:
    found_sections = sections(text)
    terms = defined_terms(text)
    return Structure(sections=found_sections, defined_terms=terms,
                     cross_references=cross_references(text, found_sections),
                     parties=parties_block(text), signatures=signature_blocks(text))


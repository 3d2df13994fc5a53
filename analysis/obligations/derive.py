"""The rules that turn a first pass (key terms, sentences, defined dates) into dated obligations.

Each rule reads one sentence (and, for renewals and notice deadlines, the expiry before it) and yields an obligation
only where the words give exactly one date: an expiry stated or computed from a stated anchor, a renewal and the
last day for notice counted from that expiry, a payment or delivery date stated in its sentence, the effective date.
It never invents: no date in the words, an undated anchor, two candidate answers, or a day the calendar lacks give
nothing. It never parses dates itself; the first pass's key terms are the only dates and periods it reads.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from datetime import date

from analysis.anchoring import PageSpan, pages_for_span
from analysis.first_pass.candidates import sentences
from analysis.first_pass.keyterms import Term, TermKind
from analysis.first_pass.numbers import number_from_words
from analysis.first_pass.pipeline import FirstPass, read_first_pass
from analysis.ingest.document import IngestedDocument
from analysis.obligations.anchors import AGREEMENT_DATE_WORDS, Anchor, Anchors
from analysis.obligations.model import KINDS, Obligation, ObligationKind, Passage
from analysis.obligations.periods import Period, full_date, period, shifted

_FLAGS = re.IGNORECASE

# A sentence about how long the agreement (or a licence, an appointment) lasts.
_TERM_SENTENCE = re.compile(
    r"\b(?:term|expir\w*|remain\w*\s+in\s+(?:full\s+force\s+and\s+)?effect|continue\w*|in\s+effect|in\s+force|"
    r"effective\s+until|terminat\w*|end(?:s|ing)?|conclud\w*|valid|period|anniversary)\b", _FLAGS)
_CHOICE = re.compile(r"\b(?:later|earlier|latest|earliest|sooner|longer|shorter)\s+of\b|\bwhichever\b|"
                     r"\bor\s+until\b", _FLAGS)
# Words just before an end date: "until", "through", "expire on", "terminate automatically without notice on".
_END_BEFORE = re.compile(
    r"(?:\buntil|\btill|\bthrough|\bthru|\b(?:expir\w*|end(?:s|ing)?|terminat\w*|conclud\w*)(?:(?:\s+[a-z]+){0,3}?"
    r"\s+(?:on|at|upon|as\s+of))?|\b(?:expiration|expiry|termination|end)\s+date\s*(?:shall\s+be|is|:)?)\s+(?:and\s+including\s+)?(?:(?:the\s+)?close\s+of\s+business\s+on\s+|"
    r"midnight\s+(?:\(?[^)]{0,20}\)?\s+)?on\s+|11:59\s*p\.?m\.?[^,]{0,20}?\s+on\s+)?$", _FLAGS)
# Words just before a start date: "commencing on", "effective as of", "beginning".
_START_BEFORE = re.compile(
    r"\b(?:commenc\w*|begin\w*|began|start\w*|effective|from|(?:take|takes|took)\s+effect|in\s+force)"
    r"(?:\s+(?:on|upon|as\s+of|from|with|at|in))?(?:\s+and\s+after)?\s+(?:the\s+)?$", _FLAGS)
# Words just before the length of a term: "for a period of", "initial term of", "shall be", "continue for".
_LENGTH_BEFORE = re.compile(
    r"\b(?:for|of|be|is|last|lasting|until|in|expire|expires|expiring|end|ending|terminate|terminating|conclude|"
    r"concluding|duration\s+of)\s+(?:a\s+|an\s+|the\s+)?(?:(?:initial|primary|original|"
    r"fixed|further|minimum|firm|base)\s+)?(?:(?:period|term|time)\s+of\s+)?(?:\(?the\s+[\"\u201c]?\w+\s*\w*[\"\u201d]?\)?\s+)?$",
    _FLAGS)
_RENEWAL_CONTEXT = re.compile(r"\b(?:renew\w*|extension|successive|additional|consecutive|further|another|"
                              r"each|notice|prior|before|within|after\s+the\s+(?:end|expir))\b[^.;]{0,50}$",
                              _FLAGS)
# An automatic renewal: "shall automatically renew", "renewed tacitly", "will continue from year to year unless".
_AUTOMATIC = re.compile(r"\b(?:automatic(?:ally)?|tacitly|self-renewing|evergreen)\b", _FLAGS)
_RENEWS = re.compile(r"\b(?:renew\w*|extend\w*|extension|continue\w*|prolong\w*)\b", _FLAGS)
_UNLESS_NOTICE = re.compile(r"\bunless\b[^.]{0,200}?\b(?:notice|notif\w*|notifies|elects?)\b", _FLAGS)
_RENEWAL_LENGTH_BEFORE = re.compile(r"\b(?:successive|additional|further|consecutive|another|renewal\s+(?:term|period)s?\s+of|"
                                    r"periods?\s+of|terms?\s+of|extensions?\s+of)\s+(?:(?:additional|successive|renewal|"
                                    r"consecutive|periods?\s+of|terms?\s+of)\s+)*$", _FLAGS)
_YEARLY = re.compile(r"\b(?:annual(?:ly)?|year[- ]to[- ]year|each\s+year|yearly|every\s+year|one[- ]year\s+periods)\b", _FLAGS)
_MONTHLY = re.compile(r"\bmonth[- ]to[- ]month\b", _FLAGS)
# Notice before the end of a term: "not to renew ... at least ninety (90) days prior to the end of the term".
_BEFORE_END = re.compile(r"^[^.;]{0,25}?\b(?:prior\s+to|before|in\s+advance\s+of|preceding)\b[^.;]{0,80}?"
                         r"\b(?:end|expir\w*|anniversary|renewal|term|termination\s+date)\b", _FLAGS)
_NOTICE = re.compile(r"\b(?:notice|notif\w*|notifies)\b", _FLAGS)
_NOTICE_BEFORE_END = re.compile(_BEFORE_END.pattern.replace("{0,25}", "{0,60}", 1), _FLAGS)
_PAYMENT = re.compile(r"\b(?:pay|pays|paid|payment|payments|payable|invoice\w*|remit\w*|fee|fees|installment\w*|"
                      r"purchase\s+price)\b", _FLAGS)
_DELIVERY = re.compile(r"\b(?:deliver|delivers|delivered|delivery|deliveries|ship|shipped|shipment\w*)\b", _FLAGS)
_DUE_BEFORE = re.compile(r"\b(?:on\s+or\s+before|by|no\s+later\s+than|not\s+later\s+than|due\s+(?:on|by)|payable\s+on|"
                         r"paid\s+on|delivered\s+on|prior\s+to|before|on)\s+(?:the\s+)?$", _FLAGS)
_COUNTED_FROM = re.compile(r"\s*(?:\([^)]{0,40}\)\s*)?,?\s*(?:after|following|from|of|upon|prior\s+to|before|beyond|"
                           r"subsequent\s+to|(?:commencing|beginning|starting)(?:\s+(?:on|upon|with|from|as\s+of))?|"
                           r"(?:from\s+and\s+)?(?:after|including))\s+(?:and\s+including\s+)?(?:the\s+|such\s+)?"
                           r"(?P<what>[^.;]*)", _FLAGS)
_ORDINALS = {word: n for n, word in enumerate(("first", "second", "third", "fourth", "fifth", "sixth", "seventh",
             "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
             "seventeenth", "eighteenth", "nineteenth", "twentieth"), start=1)} | {"twenty-fifth": 25, "thirtieth": 30}
_ANNIVERSARY = re.compile(
    r"(?P<day_before>(?:the\s+)?(?:day|date)\s+(?:immediately\s+)?(?:prior\s+to|before|preceding)\s+)?(?:the\s+)?"
    r"(?P<ordinal>" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r"|\d{1,2}(?:st|nd|rd|th)|"
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|\d{1,2})(?:\s*\(\d{1,2}\))?[- ]years?)"
    r"(?:\s*\(\d{1,2}(?:st|nd|rd|th)?\))?\s+anniversary\s+of\s+(?:the\s+)?", _FLAGS)
_END_BEFORE_ANNIVERSARY = re.compile(r"\b(?:until|till|through|thru|expir\w*(?:\s+on)?|end(?:s|ing)?(?:\s+on)?|"
                                     r"terminat\w*\s+on|conclud\w*(?:\s+on)?|continu\w*\s+(?:until|through)|on|upon)"
                                     r"\s+$", _FLAGS)
# Whose term it is: the agreement's (or a licence's, an appointment's), not a standstill's or a fiscal year's.
_SUBJECT = re.compile(r"\b(?:agreement|contract|amendment|licen[cs]e|addendum|statement\s+of\s+work|lease|"
                      r"appointment|arrangement|engagement|employment|term|initial\s+period)\b", _FLAGS)
_NOT_THE_TERM = re.compile(r"\b(?:fiscal\s+year|taxable\s+year|quarter|"
                           r"exclusivity\s+period|contract\s+year|agreement\s+year|(?:representations?|warrant\w+|"
                           r"covenants?|obligations?)\b[^.;]{0,80}\b(?:survive|thereafter))\b", _FLAGS)
# The agreement's own term, where a sentence gives its length and no start: "The term of this Agreement is twenty-four
# (24) months", "This Agreement shall remain in force for three years". Not a programme's, a licence's or a phase's.
_THE_AGREEMENTS_TERM = re.compile(
    r"^\W*(?:the\s+)?(?:(?:initial|original)\s+)?term\s+of\s+(?:this|the)\s+(?:agreement|contract)\b|"
    r"^\W*(?:this|the)\s+(?:agreement|contract)\s+(?:(?:shall|will|is\s+to)\s+)?(?:be\s+for|remain|continue|be\s+in\s+"
    r"(?:full\s+)?(?:force|effect)|be\s+effective|be\s+valid|is\s+for|has\s+a\s+term)\b|"
    r"^\W*(?:the\s+)?(?:initial\s+)?term\s+(?:shall|will)\s+be\b", _FLAGS)
_LAST_DAY_OF = re.compile(r"\blast\s+(?:business\s+)?day\s+of\s+(?:the\s+)?(?:calendar\s+)?(?:month|quarter|year)[^.;]{0,60}$",
                          _FLAGS)
_CUE_CHARS = 120
_RENEWAL_WINDOW = 3000  # characters after an expiry in which a renewal clause is read as renewing it
_MAX_PASSAGE = 4000  # a "sentence" longer than this is a run of text the splitter could not break: not read


def document_obligations(document: IngestedDocument, first: FirstPass | None = None) -> tuple[Obligation, ...]:
    """The obligations of an ingested document; `first` is its first pass where the caller already has it."""
    first = first if first is not None else read_first_pass(document.text, document.pages)
    return derive_obligations(document.text, first, document.pages)


def derive_obligations(text: str, first: FirstPass, pages: Sequence[PageSpan] = ()) -> tuple[Obligation, ...]:
    """Every dated obligation the first pass of `text` supports, sorted by date, then kind, then offset."""
    return _Reader(text, first, pages).obligations()


class _Reader:
    def __init__(self, text: str, first: FirstPass, pages: Sequence[PageSpan]) -> None:
        self.text = text
        self.pages = pages
        self.terms = first.key_terms
        self.anchors = Anchors(text, first.structure, first.key_terms)
        self.periods = [t for t in first.key_terms if t.kind in (TermKind.DURATION, TermKind.NOTICE_PERIOD)]
        self.period_starts = [t.start for t in self.periods]
        self.sentences = [(s, e) for s, e in sentences(text) if e - s <= _MAX_PASSAGE]
        self.found: dict[tuple[str, str], Obligation] = {}

    # --- helpers --------------------------------------------------------------------------------------------

    def passage(self, start: int, end: int) -> Passage:
        numbers = pages_for_span(start, end, self.pages) if self.pages else ()
        return Passage(start, end, numbers[0] if numbers else None, self.text[start:end])

    def periods_in(self, start: int, end: int) -> list[Term]:
        index = bisect_left(self.period_starts, start)
        found = []
        while index < len(self.periods) and self.periods[index].start < end:
            found.append(self.periods[index])
            index += 1
        return found

    def before(self, term: Term, sentence_start: int, chars: int = 80) -> str:
        return self.text[max(sentence_start, term.start - chars):term.start]

    def add(self, kind: str, day: date, spans: Sequence[tuple[int, int]], derivation: str) -> None:
        passages = tuple(self.passage(s, e) for s, e in dict.fromkeys(spans))
        key = (kind, day.isoformat())
        held = self.found.get(key)
        if held is None:
            self.found[key] = Obligation(kind, day.isoformat(), passages, derivation)
            return
        # The same date from another passage: one obligation, every passage that supports it.
        more = tuple(p for p in passages if p not in held.passages)
        if more:
            self.found[key] = Obligation(kind, held.date, held.passages + more, held.derivation)

    # --- the rules ----------------------------------------------------------------------------------------------

    def obligations(self) -> tuple[Obligation, ...]:
        expiries: list[tuple[int, int, date]] = []  # (sentence start, end, expiry) in reading order
        for start, end in self.sentences:
            words = self.text[start:end]
            if _TERM_SENTENCE.search(words):
                expiry = self.expiry(start, end)
                if expiry is not None:
                    expiries.append((start, end, expiry))
            self.payment_or_delivery(start, end)
        self.effective_date()
        for index, (start, end) in enumerate(self.sentences):
            self.renewal_and_notice(index, start, end, expiries)
        return tuple(sorted(self.found.values(), key=lambda o: (o.date, KINDS.index(o.kind), o.passage.start)))

    def expiry(self, start: int, end: int) -> date | None:
        words = self.text[start:end]
        if _CHOICE.search(words):  # "the later of five years or completion of the Studies": no single date
            return None
        if not _SUBJECT.search(words) or _NOT_THE_TERM.search(words):
            return None
        dated = [t for t in self.anchors.dates_in(start, end)]
        ends = [t for t in dated if _END_BEFORE.search(self.before(t, start))]
        if ends:
            if len({t.value for t in ends}) != 1:
                return None
            day = full_date(ends[0].value)
            self.add(ObligationKind.EXPIRY, day, [(start, end)], f"stated: ends {day.isoformat()}")
            for t in dated:  # "commencing on March 1, 2003 and ... until February 28, 2004": its start as well
                if _START_BEFORE.search(self.before(t, start, 40)) and t.value != ends[0].value:
                    self.add(ObligationKind.EFFECTIVE, full_date(t.value), [(start, end)],
                             f"stated: the term begins {t.value}")
            return day
        if _ANNIVERSARY.search(words):
            return self.anniversary(start, end)
        lengths = [t for t in self.periods_in(start, end) if t.kind == TermKind.DURATION
                   and _LENGTH_BEFORE.search(self.before(t, start, 60))
                   and not _RENEWAL_CONTEXT.search(self.before(t, start, 60))]
        if not lengths or not _EXPIRY_OR_TERM(words):
            return None
        values = {t.value for t in lengths}
        length = period(lengths[0].value)
        if len(values) != 1 or length is None or length.business:
            return None
        if _LAST_DAY_OF.search(self.before(lengths[0], start, 80)):
            return None  # "the last day of the month fifteen (15) years from ...": not the day the length reaches
        named, anchor = self.counted_from(lengths[0], start, end)
        starts = self.start_anchors(start, end)
        if starts is None:
            return None  # the term starts on a date the document does not give
        if not named and not starts and _THE_AGREEMENTS_TERM.search(words):
            anchor = self.agreement_start()  # "The term of this Agreement is two years.": from when it took effect
        elif not named:
            anchor = starts[0] if len({a.day for a in starts}) == 1 else None
        elif anchor is not None and any(a.day != anchor.day for a in starts):
            return None  # "commence on the Agreement Date ... three years after the Effective Date": two dates
        if anchor is None:
            return None
        day = shifted(anchor.day, length)
        if day is None:
            return None
        spans = [(start, end)] + ([] if start <= anchor.start < end else [(anchor.start, anchor.end)])
        self.add(ObligationKind.EXPIRY, day, spans,
                 f"{anchor.name} {anchor.day.isoformat()} plus {length.words()}: ends {day.isoformat()}")
        return day

    def counted_from(self, length: Term, start: int, end: int) -> tuple[bool, Anchor | None]:
        """What the words right after a length count it from: (False, None) where they name nothing; (True, the
        date) where they name a date, a defined date or the agreement's date; (True, None) where they name an
        event ("twelve (12) months after the termination") or a date the document does not give."""
        after = _COUNTED_FROM.match(self.text, length.end, min(end, length.end + 120))
        if after is None:
            return False, None
        return self.reference(after.start("what"), end)

    def reference(self, at: int, end: int) -> tuple[bool, Anchor | None]:
        for t in self.anchors.dates_in(at, min(end, at + 40)):
            if t.start == at:
                return True, Anchor("start date", full_date(t.value), at, t.end)
        named, anchor = self.anchors.reference_at(self.text[at:min(end, at + 120)])
        return (True, anchor) if named else (True, None)

    def start_anchors(self, start: int, end: int) -> list[Anchor] | None:
        """The dates the sentence says its term starts on; None where one of them is a date the document does not
        give."""
        words = self.text[start:end]
        found: list[Anchor] = []
        for t in self.anchors.dates_in(start, end):
            if _START_BEFORE.search(self.before(t, start, 40)):
                found.append(Anchor("start date", full_date(t.value), start, end))
        # Only a date the term starts on counts: "commence on the Effective Date", "effective as of the date hereof".
        names = set(self.anchors.defined) | self.anchors.unresolved | {"effective date"}
        for match in re.finditer("|".join(rf"\b{re.escape(n)}\b" for n in sorted(names, key=len, reverse=True))
                                 + "|" + AGREEMENT_DATE_WORDS.pattern, words, _FLAGS):
            if not _START_BEFORE.search(words[max(0, match.start() - 40):match.start()]):
                continue
            named, anchor = self.reference(start + match.start(), end)
            if anchor is None:
                return None
            found.append(anchor)
        return found

    def agreement_start(self) -> Anchor | None:
        """When the agreement took effect, for a term sentence that names no start: the Effective Date where the
        document dates it; where it defines no Effective Date at all, the agreement's own date in its preamble. An
        Effective Date defined by an event or by two dates gives nothing."""
        named = self.anchors.named("effective date")
        if named is not None:
            return named
        if "effective date" in self.anchors.unresolved or self.anchors.agreement is None:
            return None
        agreement = self.anchors.agreement
        start, end = next(((s, e) for s, e in self.sentences if s <= agreement.start and agreement.end <= e),
                          (agreement.start, agreement.end))  # the preamble's sentence: where a reader checks it
        return Anchor("the agreement's date (no start named)", agreement.day, start, end)

    def anniversary(self, start: int, end: int) -> date | None:
        """ "until the fifth (5th) anniversary of the Effective Date", "the day prior to the second anniversary of
        the Commencement Date": the anchor plus whole years (minus a day)."""
        results = []
        for match in _ANNIVERSARY.finditer(self.text, start, end):
            if not _END_BEFORE_ANNIVERSARY.search(self.text[max(start, match.start() - 60):match.start()]):
                continue
            years = _ordinal(match.group("ordinal"))
            named, anchor = self.reference(match.end(), end)
            if years is None or anchor is None:
                return None
            day = shifted(anchor.day, Period(years, "Y"))
            if day is None:
                return None
            if match.group("day_before"):
                day = shifted(day, Period(1, "D"), -1)
            results.append((day, anchor, years, bool(match.group("day_before"))))
        if len({r[0] for r in results}) != 1:
            return None
        day, anchor, years, day_before = results[0]
        spans = [(start, end)] + ([] if start <= anchor.start < end else [(anchor.start, anchor.end)])
        less = ", less one day" if day_before else ""
        self.add(ObligationKind.EXPIRY, day, spans,
                 f"{anchor.name} {anchor.day.isoformat()} plus {years} year{'s' if years > 1 else ''} "
                 f"(its anniversary){less}: ends {day.isoformat()}")
        return day

    def effective_date(self) -> None:
        anchor = self.anchors.named("effective date")
        if anchor is not None:
            self.add(ObligationKind.EFFECTIVE, anchor.day, [(anchor.start, anchor.end)],
                     f"stated: the Effective Date is {anchor.day.isoformat()}")

    def renewal_and_notice(self, index: int, start: int, end: int, expiries: list[tuple[int, int, date]]) -> None:
        words = self.text[start:end]
        renews = _RENEWS.search(words) and (_AUTOMATIC.search(words) or _UNLESS_NOTICE.search(words))
        notice = _NOTICE.search(words)
        if not renews and not notice:
            return
        # The expiry this sentence follows: in it, or before it within the window; two different ones: neither.
        near = [(s, e, d) for s, e, d in expiries if s <= start and end - e <= _RENEWAL_WINDOW + (end - start)
                and start - e <= _RENEWAL_WINDOW]
        if not near or len({d for _, _, d in near}) != 1:
            return
        expiry_start, expiry_end, expiry = near[0]
        spans = [(start, end)] + ([] if expiry_start == start else [(expiry_start, expiry_end)])
        if renews:
            length = self.renewal_length(start, end)
            if length is None:
                continue_words = "renews automatically"
            else:
                following = shifted(expiry, length)
                continue_words = (f"renews automatically for {length.words()}"
                                  + (f", to {following.isoformat()}" if following else ""))
            self.add(ObligationKind.RENEWAL, expiry, spans,
                     f"the term ending {expiry.isoformat()} {continue_words} unless notice is given")
        if notice:
            self.notice_deadline(start, end, expiry, spans)

    def renewal_length(self, start: int, end: int) -> Period | None:
        words = self.text[start:end]
        lengths = {t.value for t in self.periods_in(start, end) if t.kind == TermKind.DURATION
                   and _RENEWAL_LENGTH_BEFORE.search(self.before(t, start, 60))}
        if len(lengths) == 1:
            return period(lengths.pop())
        if not lengths and _YEARLY.search(words):
            return period("P1Y")
        if not lengths and _MONTHLY.search(words):
            return period("P1M")
        return None

    def notice_deadline(self, start: int, end: int, expiry: date, spans: list[tuple[int, int]]) -> None:
        words = self.text[start:end]
        if not re.search(r"\b(?:renew\w*|non-?renewal|expir\w*|end\s+of\s+the\s+(?:then[- ]current\s+|initial\s+)?"
                         r"(?:term|period))", words, _FLAGS):
            return
        notices = [t for t in self.periods_in(start, end) if _BEFORE_END.search(self.text[t.end:t.end + 140])
                   or (t.kind == TermKind.NOTICE_PERIOD and _NOTICE_BEFORE_END.search(self.text[t.end:t.end + 200]))]
        if len({t.value for t in notices}) != 1:
            return
        length = period(notices[0].value)
        if length is None:
            return
        day = shifted(expiry, length, -1)
        if day is None:
            return
        note = " (Saturdays and Sundays skipped; public holidays not known)" if length.business else ""
        self.add(ObligationKind.NOTICE_DEADLINE, day, spans,
                 f"expiry {expiry.isoformat()} minus {length.words()}' notice{note}: last day {day.isoformat()}")

    def payment_or_delivery(self, start: int, end: int) -> None:
        words = self.text[start:end]
        pay, deliver = _PAYMENT.search(words), _DELIVERY.search(words)
        if not pay and not deliver:
            return
        for t in self.anchors.dates_in(start, end):
            if not _DUE_BEFORE.search(self.before(t, start, 40)):
                continue
            before = self.text[start:t.start]
            cues = [(m.end(), ObligationKind.PAYMENT) for m in _PAYMENT.finditer(before)]
            cues += [(m.end(), ObligationKind.DELIVERY) for m in _DELIVERY.finditer(before)]
            # The word that says what falls due must be close, in the same clause.
            cues = [(at, kind) for at, kind in cues if len(before) - at <= _CUE_CHARS and ";" not in before[at:]]
            if not cues:
                continue
            kind = max(cues)[1]  # the nearest word before the date says what falls due on it
            day = full_date(t.value)
            verb = "payment" if kind == ObligationKind.PAYMENT else "delivery"
            self.add(kind, day, [(start, end)], f"stated: {verb} on or by {day.isoformat()}")


def _ordinal(words: str) -> int | None:
    words = words.lower()
    if words in _ORDINALS:
        return _ORDINALS[words]
    digits = re.match(r"(\d{1,2})", words)
    if digits:
        return int(digits.group(1))
    count = re.match(r"([a-z]+)", words)
    return number_from_words(count.group(1)) if count else None


def _EXPIRY_OR_TERM(words: str) -> bool:
    return bool(re.search(r"\b(?:term|expir\w*|remain\w*|continue\w*|in\s+effect|in\s+force|valid|period)\b", words, _FLAGS))

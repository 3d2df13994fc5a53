"""The report page's view of an analysis: findings grouped by category with the page's filters, each verified quote
shown as the document's own words (sliced from its text, with context), each unverified one as the model's words
with the reason. Read-only; everything is rendered escaped."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Prefetch, Q, Value, When

from webapp.reports.presenters.document_pane import window_start
from webapp.reports.presenters.first_pass import Passage, passage
from webapp.reports.models import Analysis, Anchor

RISK_LEVELS = ("high", "medium", "low", "none")
PER_PAGE = 50
NOT_FOUND = "Not found in the document: these are the model's words, not a quotation."


@dataclass(frozen=True)
class QuoteRow:
    key: str  # "a<anchor id>": the document pane marks its passage with the same key
    verified: bool
    words: str  # what the model wrote
    passage: Passage | None  # the document's words where it was found
    exact: bool
    score: float

    @property
    def window(self) -> int:
        """The first page of the document pane's window that holds this passage."""
        first = self.passage.pages[0] if self.passage and self.passage.pages else 1
        return window_start(first, first)

    @property
    def why(self) -> str:
        if not self.verified:
            return NOT_FOUND
        return "" if self.exact else f"Found with small differences (similarity {self.score:.2f})."


@dataclass(frozen=True)
class CommentRow:
    author: str
    text: str
    created_at: object


@dataclass(frozen=True)
class FindingRow:
    pk: int
    category: str
    present: bool
    answer: str
    risk: str
    risk_note: str
    quotes: tuple[QuoteRow, ...]
    review_state: str = "open"
    comments: tuple[CommentRow, ...] = ()

    @property
    def element_id(self) -> str:
        return f"finding-{self.pk}"


@dataclass(frozen=True)
class FollowUpRow:
    id: str
    question: str
    status: str
    answer: str
    error: str
    asked_by: str
    created_at: object
    cached_percent: int | None  # how much of the prompt the engine did not read again
    quotes: tuple[QuoteRow, ...]


@dataclass(frozen=True)
class FindingsPage:
    analysis: Analysis | None
    rows: tuple[FindingRow, ...]
    categories: tuple[str, ...]
    category: str
    risk: str
    verified_only: bool
    text: str
    page_number: int = 1
    page_count: int = 1
    counts: dict = field(default_factory=dict)  # over every filtered finding, not only the shown page

    @property
    def page_numbers(self) -> range:
        return range(1, self.page_count + 1)


def followup_row(asked, text: str) -> FollowUpRow:
    share = round(100 * asked.cached_prompt_tokens / asked.prompt_tokens) if asked.prompt_tokens else None
    return FollowUpRow(id=str(asked.pk), question=asked.question, status=asked.status, answer=asked.answer, error=asked.error_message,
                       asked_by=member_label(asked.asked_by), created_at=asked.created_at, cached_percent=share,
                       quotes=tuple(_quote(a, text) for a in asked.anchors.all()))


def member_label(user) -> str:
    """How a member is named on the page and in exports; a deleted account keeps its place."""
    return (user.email or user.get_username()) if user is not None else "former member"


def _quote(anchor, text: str) -> QuoteRow:
    shown = passage(text, anchor.start, anchor.end, anchor.pages) if anchor.verified and text else None
    return QuoteRow(key=f"a{anchor.pk}", verified=anchor.verified and shown is not None, words=anchor.quote,
                    passage=shown, exact=anchor.exact, score=anchor.score)


@dataclass(frozen=True)
class FindingsFilter:
    """The page's findings filters, checked, and the findings they keep in the order the page shows them."""

    kept: object  # queryset of findings
    anchors: object  # queryset of the anchors the page shows (verified only, when asked)
    categories: tuple[str, ...]
    category: str
    risk: str
    verified_only: bool


def findings_filter(*, findings, category: str = "", risk: str = "", verified_only: bool = False) -> FindingsFilter:
    """Filtering and ordering (present first, the riskiest on top, then playbook order) happen in the database."""
    categories = tuple(dict.fromkeys(findings.order_by("position").values_list("category", flat=True)))
    category = category if category in categories else ""
    risk = risk if risk in RISK_LEVELS else ""
    kept = findings
    if category:
        kept = kept.filter(category=category)
    if risk:
        kept = kept.filter(risk=risk)
    anchors = Anchor.objects.filter(verified=True) if verified_only else Anchor.objects.all()
    if verified_only:
        kept = kept.filter(Exists(anchors.filter(finding=OuterRef("pk"))))
    rank = Case(*(When(present=True, risk=level, then=Value(n)) for n, level in enumerate(RISK_LEVELS)),
                default=Value(len(RISK_LEVELS)), output_field=IntegerField())
    return FindingsFilter(kept=kept.order_by("-present", rank, "position"), anchors=anchors, categories=categories,
                          category=category, risk=risk, verified_only=verified_only)


@dataclass(frozen=True)
class RiskCount:
    level: str  # one of RISK_LEVELS: also the value of the page's `risk` filter
    count: int  # present findings at this level


def risk_counts(*, findings) -> tuple[RiskCount, ...]:
    """The present findings of `findings` (an analysis's, unfiltered) per risk level, riskiest first: the summary
    that opens the report page. One aggregate query, whatever the number of findings."""
    counted = findings.filter(present=True).aggregate(
        **{f"risk_{level}": Count("pk", filter=Q(risk=level)) for level in RISK_LEVELS})
    return tuple(RiskCount(level, counted[f"risk_{level}"]) for level in RISK_LEVELS)


@dataclass(frozen=True)
class QuoteMark:
    """A verified quote of a kept finding, for the document pane: the pane marks every one, whichever findings
    page the reader is on, and a click on a finding that page does not show goes to the page that does."""

    key: str
    start: int
    end: int
    finding: str  # the finding's element id
    findings_page: int


def quote_marks(chosen: FindingsFilter) -> tuple[QuoteMark, ...]:
    order = {pk: n // PER_PAGE + 1 for n, pk in enumerate(chosen.kept.values_list("pk", flat=True))}
    rows = (Anchor.objects.filter(finding__in=chosen.kept.order_by().values("pk"), verified=True, start__isnull=False,
                                  end__isnull=False)
            .order_by("start", "pk").values_list("pk", "start", "end", "finding_id"))
    return tuple(QuoteMark(f"a{pk}", start, end, f"finding-{finding}", order[finding])
                 for pk, start, end, finding in rows if finding in order)


def findings_page(*, analysis: Analysis | None, findings, text: str, category: str = "", risk: str = "",
                  verified_only: bool = False, page: int = 1) -> FindingsPage:
    """`findings`: a queryset of the analysis's findings; `page`: the findings page asked for (from 1; one past the
    last shows the last). Filtering, ordering, counting and paging happen in the database; only the shown page's
    findings, quotes and comments are loaded and cut from the text, so a report with thousands of findings stays
    fast."""
    chosen = findings_filter(findings=findings, category=category, risk=risk, verified_only=verified_only)
    kept, anchors = chosen.kept, chosen.anchors
    counted = kept.aggregate(findings=Count("pk"), present=Count("pk", filter=Q(present=True)))
    pages = max(1, -(-counted["findings"] // PER_PAGE))
    number = min(max(1, page), pages)
    shown = kept[(number - 1) * PER_PAGE:number * PER_PAGE].prefetch_related(
        Prefetch("anchors", queryset=anchors.order_by("position")), "comments__author")
    rows = tuple(FindingRow(found.pk, found.category, found.present, found.answer, found.risk, found.risk_note,
                            tuple(_quote(a, text) for a in found.anchors.all()), review_state=found.review_state,
                            comments=tuple(CommentRow(member_label(c.author), c.text, c.created_at) for c in found.comments.all()))
                 for found in shown)
    quoted = anchors.filter(finding__in=kept.order_by().values("pk")).aggregate(
        quotes=Count("pk"), unverified=Count("pk", filter=Q(verified=False)))
    counts = {**counted, **quoted}
    return FindingsPage(analysis=analysis, rows=rows, categories=chosen.categories, category=chosen.category,
                        risk=chosen.risk, verified_only=verified_only, text=text, page_number=number,
                        page_count=pages, counts=counts)

"""The three heavy parts of the report page (the document pane, the shown analysis's findings, the first pass),
each drawn only when the cache does not already hold it for this query (page_cache.py says why that is safe).

The inputs are computed lazily and shared: a page drawn from the cache reads neither the document's text nor its
findings; a page that draws several parts reads the text once.
"""

from __future__ import annotations

from functools import cached_property
from urllib.parse import urlencode

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from webapp.reports.presenters.document_pane import Span, document_pane, pane_window
from webapp.reports.presenters.findings import (RISK_LEVELS, FindingsPage, RiskCount, findings_filter, findings_page,
                                                quote_marks, risk_counts)
from webapp.reports.presenters.first_pass import SCORE_CHOICES, FirstPassPage, first_pass_page
from webapp.reports.models import Finding, ReviewState
from webapp.reports.page_cache import CSRF_PLACEHOLDER, cached_part, part_key, query_value, with_reader_token
from webapp.reports.selectors import analysis_findings, report_document_text

EXPORT_LABELS = (("pdf", "PDF"), ("docx", "Word"), ("md", "Markdown"), ("json", "JSON"), ("csv", "CSV"))
FINDING_FILTERS = ("finding_category", "risk", "verified")
FIRST_PASS_FILTERS = ("category", "min_score", "kind")


def filters_kept(query) -> dict:
    """The findings filters of this page, for links that must show the same (exports, the other pane)."""
    return {key: query[key] for key in FINDING_FILTERS if query.get(key)}


def _page_number(value) -> int:
    try:
        return min(max(1, int(value)), 10**6)
    except (TypeError, ValueError):
        return 1


class ReportParts:
    def __init__(self, *, request: HttpRequest, report, shown, can_analyse: bool, can_export: bool):
        self.request, self.report, self.document, self.shown = request, report, report.document, shown
        self.query = request.GET
        self.can_analyse, self.can_export = can_analyse, can_export
        self.kept_filters = filters_kept(self.query)
        self.findings_page_asked = _page_number(self.query.get("fpage", "1"))
        total = self.document.page_count or 0
        self.window = pane_window(self.query.get("pages", 1), total) if total else None

    # --- inputs, computed on first use -------------------------------------------------------------
    @cached_property
    def text(self) -> str:
        return report_document_text(report=self.report)

    @cached_property
    def first_pass(self) -> FirstPassPage:
        stored = self.report.first_pass
        return first_pass_page(stored=stored, text=self.text if stored else "", category=self.query.get("category", ""),
                               min_score=self.query.get("min_score", ""), kind=self.query.get("kind", ""))

    @property
    def shown_ready(self) -> bool:
        """Whether the shown analysis has findings to list and mark."""
        return self.shown is not None and self.shown.status == "ready"

    @cached_property
    def findings(self) -> FindingsPage:
        ready = self.shown_ready
        return findings_page(
            analysis=self.shown, findings=analysis_findings(analysis=self.shown) if ready else Finding.objects.none(),
            text=self.text if ready else "", category=self.query.get("finding_category", ""),
            risk=self.query.get("risk", ""), verified_only=self.query.get("verified") == "1",
            page=self.findings_page_asked)

    @cached_property
    def risk_counts(self) -> tuple[RiskCount, ...]:
        """Present findings of the shown analysis per risk level, whatever the filters: the summary's links apply
        the `risk` filter alone."""
        return risk_counts(findings=analysis_findings(analysis=self.shown)) if self.shown_ready else ()

    @property
    def filter_query(self) -> str:
        return urlencode(self.kept_filters)

    @property
    def pane_query(self) -> str:
        """What links between the panes keep: the findings' filters and page."""
        page = {"fpage": self.findings_page_asked} if self.findings_page_asked > 1 else {}
        return urlencode({**self.kept_filters, **page})

    def _query_inputs(self, names) -> tuple:
        return tuple(query_value(self.query.get(name, "")) for name in names)

    def _analysis_inputs(self) -> tuple:
        shown = self.shown
        return (shown.pk, shown.status, shown.updated_at.isoformat()) if shown is not None else (None,)

    # --- parts -------------------------------------------------------------------------------------
    def document_pages_html(self) -> SafeString:
        key = part_key("pages", self.document.pk, self.report.updated_at.isoformat(), self._analysis_inputs(),
                       self._query_inputs(FINDING_FILTERS + ("category", "min_score")), self.window)
        return with_reader_token(cached_part(key, self._draw_pages), self.request)

    def findings_html(self) -> SafeString:
        key = part_key("findings", self.report.updated_at.isoformat(), self._analysis_inputs(), self._query_inputs(FINDING_FILTERS),
                       self.findings_page_asked, self.can_analyse, self.can_export)
        return with_reader_token(cached_part(key, self._draw_findings), self.request)

    def first_pass_html(self) -> SafeString:
        key = part_key("first-pass", self.document.pk, self.report.pk, self.report.updated_at.isoformat(),
                       self._query_inputs(FIRST_PASS_FILTERS))
        return with_reader_token(cached_part(key, self._draw_first_pass), self.request)

    # --- drawing -------------------------------------------------------------------------------------
    def _draw_pages(self) -> str:
        if self.window is None:
            return ""
        images = self.document.kind == "pdf"
        rows = self.document.pages.only("document", "number", "start", "end", "estimated",
                                        *(("width", "height", "lines") if images else ()))
        pane = document_pane(text=self.text, pages=rows, window=self.window, spans=self._marked_spans(), images=images)
        return render_to_string("reports/_document_pages.html", {"pane": pane, "document": self.document})

    def _draw_findings(self) -> str:
        if not self.shown_ready:
            return ""
        return render_to_string("reports/_analysis_findings.html", {
            "shown": self.shown, "findings": self.findings, "risk_counts": self.risk_counts,
            "can_export": self.can_export, "can_analyse": self.can_analyse, "export_formats": EXPORT_LABELS,
            "filter_query": self.filter_query, "pane_query": self.pane_query, "review_states": ReviewState.values,
            "risk_levels": RISK_LEVELS, "csrf_token": CSRF_PLACEHOLDER})

    def _draw_first_pass(self) -> str:
        return render_to_string("reports/_first_pass.html", {"first_pass": self.first_pass,
                                                             "score_choices": SCORE_CHOICES})

    def _marked_spans(self) -> list[Span]:
        """What the document pane marks: the verified quotes of every finding the filters keep (on any findings
        page), and the first pass's passages (a layer the reader switches on)."""
        spans = []
        if self.shown_ready:
            chosen = findings_filter(findings=analysis_findings(analysis=self.shown),
                                     category=self.query.get("finding_category", ""), risk=self.query.get("risk", ""),
                                     verified_only=self.query.get("verified") == "1")
            spans = [Span(m.start, m.end, m.key, "finding", m.finding, m.findings_page) for m in quote_marks(chosen)]
        spans += [Span(r.passage.start, r.passage.end, f"fp{n}", "first-pass")
                  for n, r in enumerate(r for _, rows in self.first_pass.clause_groups for r in rows)]
        return spans

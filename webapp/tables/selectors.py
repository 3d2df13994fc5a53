"""The rows of a workspace table page, narrowed to the user's workspaces by the permissions module.

Filtering, sorting and paging happen in the database (keyset pagination: a page costs the same at row 10 as at row
10,000), and a page's cells come from one query per source: the findings of the analyses shown, the first-pass cells
of documents no model has read, the latest runs' states.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from webapp.documents.models import Document
from webapp.reports.models import Analysis, AnalysisStatus, Finding, FirstPassCell, Report
from webapp.reports.presenters.document_pane import page_anchor
from webapp.tables.columns import Column
from webapp.tables.models import BatchRun, TableExport
from webapp.tables.query import CellFilter, TableQuery, cursor_decode, cursor_encode
from webapp.workspaces import permissions

PRESENT_SCORE = 0.5  # a first-pass clause counts as present from here (the report page's default filter)


@dataclass(frozen=True)
class Cell:
    source: str  # "finding" or "first_pass"
    text: str
    url: str  # the report at this finding, or at the page of this passage
    present: bool
    risk: str = ""  # findings only
    verified: int = 0  # findings: quotes found in the document
    score: float | None = None  # first-pass clauses
    review_state: str = ""
    finding_id: int | None = None
    assigned_to: str = ""  # the username of the member asked to review it


@dataclass(frozen=True)
class Run:
    """The latest run of the table's playbook over one document, when it is not the one whose cells are shown."""

    analysis_id: str
    status: str
    progress: int
    stage: str
    error: str


@dataclass(frozen=True)
class Row:
    document: Document
    cells: tuple[Cell | None, ...]  # one per column
    run: Run | None
    analysis_id: str | None  # the ready analysis the cells come from; None: the first pass


@dataclass(frozen=True)
class TablePage:
    rows: tuple[Row, ...]
    next_cursor: str  # "" on the last page
    total: int  # rows the filters keep, all pages


def _documents(*, user, workspace, query: TableQuery):
    latest = Analysis.objects.filter(document=OuterRef("pk"), playbook_name=query.playbook).order_by("-created_at", "-pk")
    rows = (permissions.visible_to(Document.objects.filter(workspace=workspace), user=user)
            .defer("text", "ingest_info")
            .annotate(shown_analysis=Subquery(latest.filter(status=AnalysisStatus.READY).values("pk")[:1]),
                      latest_run=Subquery(latest.values("pk")[:1])))
    if query.name:
        rows = rows.filter(original_name__icontains=query.name)
    if query.status:
        rows = rows.filter(status=query.status)
    if query.kind:
        rows = rows.filter(kind=query.kind)
    return rows


def _finding_q(column: Column, cell_filter: CellFilter) -> Q:
    if cell_filter.op == "contains":
        return Q(answer__icontains=cell_filter.value)
    if cell_filter.op == "risk":
        return Q(present=True, risk=cell_filter.value)
    return Q(present=True)


def _cell_q(cell_filter: CellFilter) -> Q | None:
    if cell_filter.op == "contains":
        return Q(value__icontains=cell_filter.value)
    if cell_filter.op == "risk":
        return None  # the first pass rates no risk
    return Q(score__gte=PRESENT_SCORE) | Q(score__isnull=True)


def _filter(rows, columns: dict[str, Column], cell_filter: CellFilter, n: int):
    """One cell filter: on the finding where a model answered the item, else on the first pass's cell."""
    column = columns[cell_filter.column]
    found = Finding.objects.filter(analysis_id=OuterRef("shown_analysis"), item=column.item or "-")
    passages = FirstPassCell.objects.filter(report__document_id=OuterRef("pk"), column=column.first_pass or "-")
    wanted = _finding_q(column, cell_filter)
    in_cell = _cell_q(cell_filter)
    rows = rows.alias(**{f"model_{n}": Exists(found.filter(wanted)),
                         f"first_{n}": Exists(passages.filter(in_cell)) if in_cell is not None else Value(False)})
    match = Q(shown_analysis__isnull=False, **{f"model_{n}": True}) | Q(shown_analysis__isnull=True, **{f"first_{n}": True})
    return rows.exclude(match) if cell_filter.op == "absent" else rows.filter(match)


def _sorted(rows, columns: dict[str, Column], query: TableQuery):
    """Rows in the page's order with `sort_key`, the value the keyset cursor carries."""
    if query.sort == "name":
        rows = rows.annotate(sort_key=F("original_name"))
    elif query.sort in columns:
        column = columns[query.sort]
        answer = Finding.objects.filter(analysis_id=OuterRef("shown_analysis"), item=column.item or "-")
        passage = FirstPassCell.objects.filter(report__document_id=OuterRef("pk"), column=column.first_pass or "-")
        rows = rows.annotate(sort_key=Coalesce(Subquery(answer.values("answer")[:1]),
                                               Subquery(passage.values("value")[:1]), Value(""),
                                               output_field=TextField()))
    else:
        rows = rows.annotate(sort_key=F("created_at"))
    descending = query.descending if query.sort else True  # newest first unless asked otherwise
    cursor = cursor_decode(query.after) if query.after else None
    if cursor is not None:
        value, pk = cursor
        if not query.sort:
            try:
                value = parse_datetime(value) if isinstance(value, str) else None
            except ValueError:  # well formed but impossible (month 13): start from the top
                value = None
        if value is not None:
            op = "lt" if descending else "gt"
            rows = rows.filter(Q(**{f"sort_key__{op}": value}) | Q(sort_key=value, **{f"pk__{op}": pk}))
    order = (F("sort_key").desc(), F("pk").desc()) if descending else (F("sort_key").asc(), F("pk").asc())
    return rows.order_by(*order)


def _review_filter(rows, query: TableQuery, user):
    """Rows with a finding in the asked review state, or assigned to the reader."""
    if not query.review:
        return rows
    findings = Finding.objects.filter(analysis_id=OuterRef("shown_analysis"))
    if query.review == "assigned_to_me":
        findings = findings.filter(assigned_to=user)
    else:
        state = {"unreviewed": "open", "disputed": "disputed", "verified": "reviewed"}[query.review]
        findings = findings.filter(present=True, review_state=state)
    return rows.alias(in_review=Exists(findings)).filter(in_review=True)


def table_page(*, user, workspace, columns: tuple[Column, ...], query: TableQuery) -> TablePage:
    by_key = {c.key: c for c in columns}
    rows = _documents(user=user, workspace=workspace, query=query)
    for n, cell_filter in enumerate(query.filters):
        rows = _filter(rows, by_key, cell_filter, n)
    rows = _review_filter(rows, query, user)
    total = rows.count()
    page = list(_sorted(rows, by_key, query).select_related("uploaded_by")[: query.per_page + 1])
    more = len(page) > query.per_page
    page = page[: query.per_page]
    built = _rows(page, columns, query)
    last = page[-1] if page else None
    next_cursor = ""
    if more and last is not None:
        key = last.sort_key.isoformat() if hasattr(last.sort_key, "isoformat") else last.sort_key
        next_cursor = cursor_encode(key, last.pk)
    return TablePage(rows=built, next_cursor=next_cursor, total=total)


def _report_url(url: str, *, analysis_id=None, finding_id=None, page: int | None = None) -> str:
    """`url`: the document's report page (reversed once per row, not per cell)."""
    if finding_id is not None:
        return f"{url}?analysis={analysis_id}#finding-{finding_id}"
    return url + page_anchor(page)


def _rows(documents: list[Document], columns: tuple[Column, ...], query: TableQuery) -> tuple[Row, ...]:
    shown = {d.shown_analysis for d in documents if d.shown_analysis}
    findings: dict[tuple, dict] = {}
    for f in (Finding.objects.filter(analysis_id__in=shown)
              .annotate(verified=Count("anchors", filter=Q(anchors__verified=True)))
              .values("id", "analysis_id", "item", "present", "answer", "risk", "review_state", "verified",
                      "assigned_to__username")):
        findings[(f["analysis_id"], f["item"])] = f
    unread = [d.pk for d in documents if not d.shown_analysis]
    wanted = {c.first_pass for c in columns if c.first_pass}
    cells: dict[tuple, dict] = {}
    for c in (FirstPassCell.objects.filter(report__document_id__in=unread, column__in=wanted)
              .values("report__document_id", "column", "value", "score", "page")):
        cells[(c["report__document_id"], c["column"])] = c
    latest = {d.latest_run for d in documents if d.latest_run and d.latest_run != d.shown_analysis}
    runs = {r["id"]: Run(str(r["id"]), r["status"], r["progress"], r["stage"], r["error_message"])
            for r in Analysis.objects.filter(pk__in=latest).values("id", "status", "progress", "stage", "error_message")}
    out = []
    for document in documents:
        report = reverse("reports:detail", args=[document.pk])
        row_cells = []
        for column in columns:
            if document.shown_analysis:
                f = findings.get((document.shown_analysis, column.item)) if column.item else None
                row_cells.append(None if f is None else Cell(
                    "finding", f["answer"], _report_url(report, analysis_id=document.shown_analysis, finding_id=f["id"]),
                    f["present"], risk=f["risk"], verified=f["verified"], review_state=f["review_state"],
                    finding_id=f["id"], assigned_to=f["assigned_to__username"] or ""))
                continue
            c = cells.get((document.pk, column.first_pass))
            row_cells.append(None if c is None else Cell(
                "first_pass", c["value"], _report_url(report, page=c["page"]),
                c["score"] is None or c["score"] >= PRESENT_SCORE, score=c["score"]))
        out.append(Row(document, tuple(row_cells), runs.get(document.latest_run),
                       str(document.shown_analysis) if document.shown_analysis else None))
    return tuple(out)


def batch_get(*, user, batch_id) -> BatchRun:
    """The batch if its workspace is one of the user's; 404 otherwise, whether or not it exists."""
    batch = permissions.visible_to(BatchRun.objects.select_related("workspace"), user=user).filter(pk=batch_id).first()
    if batch is None:
        raise Http404("No such batch run.")
    return batch


def batches_for_workspace(*, workspace, limit: int = 5) -> list[BatchRun]:
    """The workspace's latest batch runs (the caller may read the workspace)."""
    return list(BatchRun.objects.filter(workspace=workspace)[:limit])


def export_jobs_for(*, user, workspace, limit: int = 3) -> list[TableExport]:
    """The member's own latest exports of this workspace's table (nobody sees another's)."""
    return list(TableExport.objects.filter(workspace=workspace, user=user)[:limit])


def table_data_version(*, workspace) -> tuple:
    """What the table's rows are drawn from, as of now: documents (count, last change), analyses (last change: a new
    run, a finding reviewed, assigned or commented touches it) and reports (their first-pass cells). A change to
    any of them makes a new cache key for every table page of the workspace."""
    documents = Document.objects.filter(workspace=workspace).aggregate(n=Count("pk"), at=Max("updated_at"))
    analyses = Analysis.objects.filter(document__workspace=workspace).aggregate(n=Count("pk"), at=Max("updated_at"))
    reports = Report.objects.filter(document__workspace=workspace).aggregate(at=Max("updated_at"))
    return (documents["n"], str(documents["at"]), analyses["n"], str(analyses["at"]), str(reports["at"]))

"""The workspace table as a spreadsheet: XLSX (the table, and every quote with its document, page and a link back to
the report) or CSV (the table), with the page's filters and sort and the reader's permissions. Every export is in
the audit trail. Cells are written as text: a value a document supplied never becomes a formula."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.errors import NotFoundError
from webapp.reports.models import Anchor
from webapp.tables.columns import Column
from webapp.tables.query import TableQuery
from webapp.tables.selectors import Cell, Row, table_page
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action

FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv; charset=utf-8"}
CHUNK = 500  # rows per keyset page while exporting
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class TableExport:
    content: bytes
    content_type: str
    filename: str
    rows: int


def _safe(text: str) -> str:
    """Spreadsheet programs run a cell that starts with = + - @ as a formula: such text gets a leading quote."""
    text = text or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    if cell.source == "finding":
        head = cell.text if cell.present else f"absent{': ' + cell.text if cell.text else ''}"
        return f"{head} [risk {cell.risk}; {cell.verified} verified quote{'s' if cell.verified != 1 else ''}; {cell.review_state}]"
    if cell.score is not None:
        return f"{cell.text} [first pass {cell.score:.2f}]"
    return f"{cell.text} [first pass]"


def _all_rows(*, user, workspace, columns, query: TableQuery, progress=None):
    after, done = "", 0
    while True:
        page = table_page(user=user, workspace=workspace, columns=columns,
                          query=TableQuery(**{**query.__dict__, "after": after, "per_page": CHUNK}))
        yield from page.rows
        done += len(page.rows)
        if progress is not None:
            progress(done / max(page.total, 1))
        if not page.next_cursor:
            return
        after = page.next_cursor


def _header(columns: tuple[Column, ...]) -> list[str]:
    return ["Document", "State", "Source", "Report"] + [c.title for c in columns]


def _line(row: Row, columns, base_url: str) -> list[str]:
    source = "model analysis" if row.analysis_id else "first pass"
    report = f"{base_url}/d/{row.document.pk}/report/"
    return [_safe(row.document.original_name), row.document.status, source, report] + [_safe(cell_text(c)) for c in row.cells]


def table_export(*, user, workspace, columns: tuple[Column, ...], query: TableQuery, fmt: str, base_url: str,
                 progress=None) -> TableExport:
    """`progress(fraction)` hears how far the rows have been read (a worker writing a large export reports it)."""
    permissions.require(user=user, workspace=workspace, action=Action.EXPORT)
    if fmt not in FORMATS:
        raise NotFoundError(f"Unknown export format {fmt!r}; choose xlsx or csv.")
    rows = list(_all_rows(user=user, workspace=workspace, columns=columns, query=query, progress=progress))
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    filename = f"quire-table-{query.playbook}-{stamp}.{fmt}"
    content = _xlsx(rows, columns, base_url) if fmt == "xlsx" else _csv(rows, columns, base_url)
    audit_record(action=AuditAction.EXPORT, actor=user, workspace=workspace, target=workspace, format=fmt,
                 what="workspace table", playbook=query.playbook, rows=len(rows))
    return TableExport(content=content, content_type=FORMATS[fmt], filename=filename, rows=len(rows))


def _csv(rows, columns, base_url: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header(columns))
    for row in rows:
        writer.writerow(_line(row, columns, base_url))
    return out.getvalue().encode("utf-8-sig")  # the BOM tells Excel the file is UTF-8


def _xlsx(rows, columns, base_url: str) -> bytes:
    book = Workbook()
    table = book.active
    table.title = "Table"
    table.append(_header(columns))
    for row in rows:
        table.append(_line(row, columns, base_url))
    table.freeze_panes = "B2"
    table.auto_filter.ref = f"A1:{get_column_letter(len(_header(columns)))}{len(rows) + 1}"
    table.column_dimensions["A"].width = 40
    quotes = book.create_sheet("Quotes")
    quotes.append(["Document", "Item", "Quote", "Pages", "Link"])
    names = {row.analysis_id: row.document for row in rows if row.analysis_id}
    anchors = (Anchor.objects.filter(finding__analysis_id__in=list(names), verified=True)
               .select_related("finding").order_by("finding__analysis_id", "finding__position", "position"))
    written = 1  # counted here: openpyxl's max_row walks every cell, once per call
    for anchor in anchors.iterator(chunk_size=2000):
        document = names[str(anchor.finding.analysis_id)]
        link = f"{base_url}/d/{document.pk}/report/?analysis={anchor.finding.analysis_id}#finding-{anchor.finding_id}"
        quotes.append([_safe(document.original_name), _safe(anchor.finding.category), _safe(anchor.quote),
                       ", ".join(str(p) for p in anchor.pages), link])
        written += 1
        quotes.cell(row=written, column=5).hyperlink = link
    quotes.freeze_panes = "A2"
    quotes.auto_filter.ref = f"A1:E{written}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

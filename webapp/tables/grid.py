"""The workspace table's body rows as HTML, drawn in Python rather than by the template language.

A page is 50 rows x 47 columns: 2,350 cells. Through Django's template language (a loop of loops, a filter and a
URL tag per cell) drawing them cost about 230 ms of a core on this host, so twenty reviewers browsing kept both
cores busy drawing (bench/RESULTS.md, "The workspace table"). Here each cell is one f-string with every value
passed through `escape`: the same markup, and the bench's table p95 went from 1,371 ms to 181 ms. The frame around
the rows (counts, heads, pager) stays a template, `tables/_grid.html`.

Every piece of text a document or a model wrote goes through `escape`; only markup written here is trusted.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from webapp.tables.selectors import Cell, Row

CELL_TEXT_CHARS = 140  # a cell shows the start of its answer or passage; the report shows the rest


def _short(text: str) -> str:
    return text if len(text) <= CELL_TEXT_CHARS else text[: CELL_TEXT_CHARS - 1].rstrip() + "…"


def _review_url(finding_id: int, prefix: str) -> str:
    head, tail = prefix.rsplit("/0/", 1)  # the address reversed with id 0, the id put in its place
    return f"{head}/{int(finding_id)}/{tail}"


def _cell(cell: Cell | None, review_prefix: str) -> str:
    if cell is None:
        return '<td class="cell cell-empty"></td>'
    classes = f"cell cell-{cell.source}" + ("" if cell.present else " cell-absent") + (f" risk-{cell.risk}" if cell.risk else "")
    link = f'<a href="{escape(cell.url)}" class="to-cell">{escape(_short(cell.text))}</a>'
    if cell.source == "finding":
        risk, state = escape(cell.risk), escape(cell.review_state)
        assigned = f' <span class="muted assigned">→ {escape(cell.assigned_to)}</span>' if cell.assigned_to else ""
        meta = (f'<span class="cell-meta"><span class="badge risk risk-{risk}">{risk}</span> '
                f'<span class="muted">{int(cell.verified)} q</span> '
                f'<span class="badge review-state state-{state}">{state}</span>{assigned} '
                f'<button type="button" class="small cell-review-open" data-url="{_review_url(cell.finding_id, review_prefix)}" '
                f'data-state="{state}">Review</button></span>')
    elif cell.score is not None:
        meta = f'<span class="cell-meta muted">{cell.score:.2f}</span>'
    else:
        meta = ""
    return f'<td class="{escape(classes)}">{link}{meta}</td>'


def _row(row: Row, *, can_analyse: bool, review_prefix: str) -> str:
    document = row.document
    name = escape(document.original_name)
    select = (f'<td><input type="checkbox" name="document" value="{document.pk}" aria-label="Select {name}"></td>'
              if can_analyse else "")
    run = ""
    if row.run:
        status = escape(row.run.status)
        progress = f" {int(row.run.progress)}%" if row.run.status == "running" else ""
        run = f' <span class="badge status-{status} run-state" title="{escape(row.run.error)}">{status}{progress}</span>'
        if row.run.error:
            run += f' <span class="error run-error">{escape(row.run.error)}</span>'
    source = "model" if row.analysis_id else "first pass"
    head = (f'<th scope="row" class="doc-col"><a href="{reverse("reports:detail", args=[document.pk])}">{name}</a> '
            f'<span class="muted">{source}</span>{run}</th>')
    cells = "".join(_cell(cell, review_prefix) for cell in row.cells)
    return (f'<tr data-doc-id="{document.pk}" data-status="{escape(document.status)}">{select}{head}{cells}</tr>')


def grid_rows(rows: tuple[Row, ...], *, can_analyse: bool) -> SafeString:
    """The <tr> elements of one table page (an empty page is the caller's to say)."""
    review_prefix = reverse("tables:cell_review", args=[0])  # reversed once; each cell puts its finding's id in
    html = "\n".join(_row(row, can_analyse=can_analyse, review_prefix=review_prefix) for row in rows)
    return mark_safe(html)  # noqa: S308 - every value above went through escape()

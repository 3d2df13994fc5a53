"""One renderer per export format, each from the JSON export dict (see schema.py).

Text from a document or a model is data in every format: escaped in HTML (the PDF is rendered from HTML by
WeasyPrint), quoted in CSV (and a leading =, +, - or @ neutralised so a spreadsheet never runs it as a formula),
plain runs in DOCX, and escaped for Markdown.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str
    content_type: str
    render: Callable[[dict], bytes]


def _pages(pages) -> str:
    if not pages:
        return ""
    return f"p. {pages[0]}" if len(pages) == 1 else f"pp. {pages[0]}–{pages[-1]}"


def _quote_label(quote: dict) -> str:
    return "Source: " + (_pages(quote["pages"]) if quote["verified"] else "NOT FOUND in the document (the model's words)")


def _state_label(finding: dict) -> str:
    return (f"{'Present' if finding['present'] else 'Absent'} · risk: {finding['risk']} · "
            f"Review state: {finding['review_state']}")


def _notices(report: dict) -> list[str]:
    analysis, notices = report["analysis"], []
    if analysis["test_model"]:
        notices.append("Test model: written by a random-weight model built for tests and demos; the findings are meaningless.")
    if analysis["windows"] > 1:
        notices.append(f"The document did not fit the model's context and was read in {analysis['windows']} overlapping windows.")
    filters = report["filters"]
    shown = [f"category {filters['category']}" if filters["category"] else "", f"risk {filters['risk']}" if filters["risk"] else "",
             "verified quotes only" if filters["verified_only"] else ""]
    if any(shown):
        notices.append("Filtered: " + ", ".join(s for s in shown if s) + ".")
    return notices


def _facts(report: dict) -> list[tuple[str, str]]:
    document, analysis = report["document"], report["analysis"]
    return [
        ("Document", document["name"]), ("Pages", str(document["pages"] or "")), ("SHA-256", document["sha256"]),
        ("Playbook", f"{analysis['playbook']} v{analysis['playbook_version']}"),
        ("Model", f"{analysis['model']} ({analysis['engine']})"),
        ("Tokens", f"{analysis['prompt_tokens']:,} read, {analysis['generated_tokens']:,} written"),
        ("Finished", analysis["finished_at"] or ""), ("Pages cited", ", ".join(map(str, analysis["cited_pages"])) or "none"),
        ("First pass found, model did not", ", ".join(analysis["missed_by_model"]) or "none"),
        ("Exported", report["exported_at"]),
    ]


# Markdown ------------------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def to_markdown(report: dict) -> bytes:
    out = [f"# Report: {_md(report['document']['name'])}", ""]
    for notice in _notices(report):
        out += [f"> **{_md(notice)}**", ""]
    out += [f"- **{_md(k)}:** {_md(v)}" for k, v in _facts(report)] + [""]
    for finding in report["findings"]:
        out += [f"## {_md(finding['category'])}", "", _md(_state_label(finding)), ""]
        if finding["answer"]:
            out += [_md(finding["answer"]), ""]
        if finding["risk_note"]:
            out += [f"*Risk note:* {_md(finding['risk_note'])}", ""]
        for quote in finding["quotes"]:
            out.append(f"> {_md(quote['text'])}  ")
            out.append(f"> {_md(_quote_label(quote))}")
            out.append("")
        for comment in finding["comments"]:
            out.append(f"- *{_md(comment['author'])}, {_md(comment['created_at'])}:* {_md(comment['text'])}")
        if finding["comments"]:
            out.append("")
    return "\n".join(out).encode("utf-8")


# CSV -----------------------------------------------------------------------------------------------------------

CSV_COLUMNS = ["category", "item", "present", "risk", "review_state", "answer", "risk_note", "quote", "verified",
               "pages", "start", "end", "comments"]


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: dict) -> bytes:
    """One row per finding and quote (a finding without quotes has one row with the quote columns empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for f in report["findings"]:
        comments = " | ".join(f"{c['author']}: {c['text']}" for c in f["comments"])
        base = [f["category"], f["item"], f["present"], f["risk"], f["review_state"], f["answer"], f["risk_note"]]
        for quote in f["quotes"] or [None]:
            if quote is None:
                tail = ["", "", "", "", ""]
            else:
                tail = [quote["text"], quote["verified"], " ".join(map(str, quote["pages"])), quote["start"], quote["end"]]
            writer.writerow([_cell(v) for v in [*base, *tail, comments]])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # a BOM, so spreadsheet programs read UTF-8


# DOCX ----------------------------------------------------------------------------------------------------------

_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _x(text) -> str:
    """python-docx refuses control characters that XML cannot hold; a document's text may carry them."""
    return _XML_UNSAFE.sub("", str(text))


def to_docx(report: dict) -> bytes:
    from docx import Document
    from docx.shared import Pt, RGBColor

    doc = Document()
    doc.core_properties.title = _x(f"Report: {report['document']['name']}")[:250]
    doc.add_heading(_x(f"Report: {report['document']['name']}"), level=0)
    for notice in _notices(report):
        run = doc.add_paragraph().add_run(_x(notice))
        run.bold = True
        run.font.color.rgb = RGBColor(0xA2, 0x30, 0x30)
    facts = doc.add_table(rows=0, cols=2)
    facts.style = "Table Grid"
    for key, value in _facts(report):
        cells = facts.add_row().cells
        cells[0].text, cells[1].text = _x(key), _x(value)
    doc.add_heading("Findings", level=1)
    summary = doc.add_table(rows=1, cols=5)
    summary.style = "Table Grid"
    for cell, title in zip(summary.rows[0].cells, ("Category", "Present", "Risk", "Review", "Quotes")):
        cell.text = title
    for f in report["findings"]:
        cells = summary.add_row().cells
        for cell, value in zip(cells, (f["category"], "yes" if f["present"] else "no", f["risk"], f["review_state"], str(len(f["quotes"])))):
            cell.text = _x(value)
    for f in report["findings"]:
        doc.add_heading(_x(f["category"]), level=2)
        doc.add_paragraph(_x(_state_label(f)))
        if f["answer"]:
            doc.add_paragraph(_x(f["answer"]))
        if f["risk_note"]:
            doc.add_paragraph(_x(f"Risk note: {f['risk_note']}")).runs[0].italic = True
        for quote in f["quotes"]:
            paragraph = doc.add_paragraph(style="Intense Quote" if quote["verified"] else "Quote")
            paragraph.add_run(_x(quote["text"]))
            label = paragraph.add_run(_x(f"  ({_quote_label(quote)})"))
            label.font.size = Pt(8)
        for comment in f["comments"]:
            doc.add_paragraph(_x(f"{comment['author']} ({comment['created_at']}): {comment['text']}"), style="List Bullet")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# PDF -----------------------------------------------------------------------------------------------------------

_PDF_CSS = """
@page { size: A4; margin: 18mm 16mm; @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8pt; color: #687382; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; color: #1d232b; }
h1 { font-size: 18pt; margin: 0 0 4mm; } h2 { font-size: 12pt; margin: 6mm 0 2mm; break-after: avoid; }
.cover { break-after: page; } .notice { border-left: 3pt solid #a23030; background: #fbeaea; padding: 2mm 3mm; font-weight: bold; }
table { border-collapse: collapse; width: 100%; } td, th { border: 0.5pt solid #dde2e8; padding: 1.2mm 2mm; vertical-align: top; text-align: left; }
th { background: #f3f5f8; } blockquote { margin: 2mm 0 2mm 4mm; padding-left: 3mm; border-left: 2pt solid #2f5d8a; }
blockquote.unverified { border-left: 2pt dashed #a23030; color: #687382; } .label { font-size: 8pt; color: #687382; }
.finding { break-inside: avoid-page; } .comment { font-size: 8.5pt; }
"""


def to_html(report: dict) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(report['document']['name'])}</title>"
             f"<style>{_PDF_CSS}</style></head><body>", "<section class='cover'>",
             f"<h1>Report: {e(report['document']['name'])}</h1>"]
    parts += [f"<p class='notice'>{e(n)}</p>" for n in _notices(report)]
    parts.append("<table class='facts'>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _facts(report)) + "</table>")
    parts.append("<h2>Findings</h2><table class='summary'><tr><th>Category</th><th>Present</th><th>Risk</th><th>Review</th><th>Quotes</th></tr>")
    parts += [f"<tr><td>{e(f['category'])}</td><td>{'yes' if f['present'] else 'no'}</td><td>{e(f['risk'])}</td>"
              f"<td>{e(f['review_state'])}</td><td>{len(f['quotes'])}</td></tr>" for f in report["findings"]]
    parts.append("</table></section>")
    for f in report["findings"]:
        parts.append(f"<div class='finding'><h2>{e(f['category'])}</h2>"
                     f"<p class='label'>{e(_state_label(f))}</p>")
        if f["answer"]:
            parts.append(f"<p>{e(f['answer'])}</p>")
        if f["risk_note"]:
            parts.append(f"<p><em>Risk note: {e(f['risk_note'])}</em></p>")
        for quote in f["quotes"]:
            kind = "verified" if quote["verified"] else "unverified"
            parts.append(f"<blockquote class='quote {kind}'>{e(quote['text'])}<br><span class='label'>{e(_quote_label(quote))}</span></blockquote>")
        for comment in f["comments"]:
            parts.append(f"<p class='comment'>{e(comment['author'])} ({e(comment['created_at'])}): {e(comment['text'])}</p>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def to_pdf(report: dict) -> bytes:
    from weasyprint import HTML

    # No base URL and no fetcher beyond data: nothing in a report can make the renderer read a file or the network.
    return HTML(string=to_html(report), url_fetcher=_no_fetch).write_pdf()


def _no_fetch(url: str, *args, **kwargs):
    raise ValueError(f"exports fetch nothing ({url[:40]!r})")


def to_json(report: dict) -> bytes:
    return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")


FORMATS: dict[str, ExportFormat] = {
    "pdf": ExportFormat("pdf", "pdf", "application/pdf", to_pdf),
    "docx": ExportFormat("docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", to_docx),
    "md": ExportFormat("md", "md", "text/markdown; charset=utf-8", to_markdown),
    "json": ExportFormat("json", "json", "application/json", to_json),
    "csv": ExportFormat("csv", "csv", "text/csv; charset=utf-8", to_csv),
}


def render(report: dict, name: str) -> bytes:
    return FORMATS[name].render(report)

"""Exports of an analysis: every format holds the same findings and quotes as the JSON export, which validates
against its schema; filters and permissions are the page's; file names are safe; hostile text stays text."""

from __future__ import annotations

import csv
import io
import json

import docx
import pypdf
import pytest
from django.urls import reverse

from analysis.exports import validate
from tests import factories
from tests.webapp.test_analyses import _ready_with_analysis, scripted  # noqa: F401 - the fixture
from webapp.audit.models import AuditEvent
from webapp.reports import review
from webapp.reports.exports import export_filename
from webapp.reports.models import Finding


@pytest.fixture
def reviewed(scripted, workspace, owner):  # noqa: F811 - the fixture imported above
    document, analysis = _ready_with_analysis(workspace, scripted)
    law = Finding.objects.get(analysis=analysis, item="governing_law")
    review.finding_comment(finding=law, user=owner, text='=HYPERLINK("http://evil")<b>bold?</b>')
    review.finding_set_review_state(finding=law, user=owner, state="disputed")
    return document, analysis


def _get(client, analysis, fmt, **params):
    response = client.get(reverse("reports:analysis_export", args=[analysis.id, fmt]), params)
    assert response.status_code == 200, response.content[:300]
    return response


def test_every_format_holds_the_findings_and_quotes_of_the_json_export(reviewed, owner, client):
    document, analysis = reviewed
    client.force_login(owner)
    report = json.loads(_get(client, analysis, "json").content)
    validate(report)
    findings = report["findings"]
    quotes = sum(len(f["quotes"]) for f in findings)
    assert (len(findings), quotes) == (3, 3)
    law = next(f for f in findings if f["item"] == "governing_law")
    assert law["review_state"] == "disputed" and law["comments"][0]["text"].startswith("=HYPERLINK")
    assert [q["verified"] for q in law["quotes"]] == [True, False]
    assert law["quotes"][0]["text"] == "governed by the laws of the State of New York"  # the document's words

    pdf = pypdf.PdfReader(io.BytesIO(_get(client, analysis, "pdf").content))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert text.count("Source:") == quotes and text.count("Review state:") == len(findings)
    assert "NOT FOUND in the document" in text and "Review state: disputed" in text

    word = docx.Document(io.BytesIO(_get(client, analysis, "docx").content))
    headings = [p.text for p in word.paragraphs if p.style.name == "Heading 2"]
    quoted = [p for p in word.paragraphs if p.style.name in ("Quote", "Intense Quote")]
    assert len(headings) == len(findings) and len(quoted) == quotes
    assert {"Governing Law", "Parties"} <= set(headings)

    rows = list(csv.DictReader(io.StringIO(_get(client, analysis, "csv").content.decode("utf-8-sig"))))
    assert len(rows) == sum(max(1, len(f["quotes"])) for f in findings)
    assert all(not r["comments"].startswith("=") for r in rows)
    assert any(r["comments"].startswith("olivia@example.com: =HYPERLINK") for r in rows)  # kept, inside a longer cell

    markdown = _get(client, analysis, "md").content.decode()
    assert markdown.count("\n## ") == len(findings) and "\\<b\\>bold?\\</b\\>" in markdown


def test_exports_apply_the_pages_filters(reviewed, owner, client):
    _, analysis = reviewed
    client.force_login(owner)
    only = json.loads(_get(client, analysis, "json", finding_category="Governing Law", verified="1").content)
    assert [f["item"] for f in only["findings"]] == ["governing_law"] and len(only["findings"][0]["quotes"]) == 1
    assert only["filters"] == {"category": "Governing Law", "risk": None, "verified_only": True}
    none = json.loads(_get(client, analysis, "json", risk="high").content)
    assert none["findings"] == []
    validate(none)


def test_export_names_are_safe_and_every_export_is_audited(reviewed, owner, client):
    _, analysis = reviewed
    client.force_login(owner)
    response = _get(client, analysis, "docx")
    assert response["Content-Disposition"].startswith('attachment; filename="') and response["Cache-Control"].startswith("private")
    assert export_filename('../../etc/pa"ss\r\nwd ÄÖ.pdf', "contract", "pdf") == "etc-pa-ss-wd-AO-contract-report.pdf"
    assert export_filename("....", "x/y", "csv") == "document-xy-report.csv"
    assert AuditEvent.objects.filter(action="export", detail__format="docx").count() == 1


def test_strangers_cannot_export_and_unknown_formats_are_404(reviewed, client):
    _, analysis = reviewed
    stranger = factories.make_user("sam")
    client.force_login(stranger)
    assert client.get(reverse("reports:analysis_export", args=[analysis.id, "pdf"])).status_code == 404
    viewer = factories.make_user("vik")
    factories.add_member(analysis.document.workspace, viewer, "viewer")
    client.force_login(viewer)
    assert client.get(reverse("reports:analysis_export", args=[analysis.id, "json"])).status_code == 200
    assert client.get(reverse("reports:analysis_export", args=[analysis.id, "exe"])).status_code == 404


def test_comments_and_review_states_by_role(reviewed, client):
    document, analysis = reviewed
    law = Finding.objects.get(analysis=analysis, item="governing_law")
    viewer, stranger = factories.make_user("vee"), factories.make_user("str")
    factories.add_member(document.workspace, viewer, "viewer")
    comment_url = reverse("reports:finding_comment", args=[law.pk])
    review_url = reverse("reports:finding_review", args=[law.pk])
    client.force_login(stranger)
    assert client.post(comment_url, {"text": "hi"}).status_code == 404
    assert client.post(review_url, {"state": "reviewed"}).status_code == 404
    client.force_login(viewer)
    assert client.post(comment_url, {"text": "Checked against the signed copy."}).status_code == 302
    assert client.post(review_url, {"state": "reviewed"}).status_code == 403
    law.refresh_from_db()
    assert law.review_state == "disputed" and law.comments.count() == 2
    page = client.get(reverse("reports:detail", args=[document.id])).content.decode()
    assert "Checked against the signed copy." in page and "&lt;b&gt;bold?&lt;/b&gt;" in page

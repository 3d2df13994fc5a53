"""Hostile input: script in a document's text, its filename, its metadata and in what an engine wrote
comes back escaped on every page and in the exports; a filename cannot steer where a file is stored or
what a download is called; a CSV export cannot carry a spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from webapp.documents.models import Document

pytestmark = pytest.mark.security

PAYLOAD = '<script>alert("q")</script><img src=x onerror=alert(1)>'
ESCAPED = b"&lt;script&gt;alert(&quot;q&quot;)&lt;/script&gt;"


def _upload(client, workspace, name: str, body: bytes):
    f = io.BytesIO(body)
    f.name = name
    return client.post(reverse("documents:upload", args=[workspace.id]), {"files": [f]}, HTTP_ACCEPT="application/json")


def _pages_of(world, document):
    return [
        reverse("workspaces:detail", args=[world.workspace.id]),
        reverse("documents:detail", args=[document.id]),
        reverse("reports:detail", args=[document.id]),
        reverse("audit:list", args=[world.workspace.id]),
    ]


def _json_of(world, document):
    """The live-status feeds carry document-controlled strings as JSON data: never HTML, never sniffed,
    and the page script writes them with textContent."""
    return [reverse("workspaces:status", args=[world.workspace.id]), reverse("documents:status", args=[document.id])]


def _assert_json_only(client, urls):
    for url in urls:
        response = client.get(url)
        assert response["Content-Type"] == "application/json", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        response.json()


def test_page_script_never_writes_html():
    from pathlib import Path

    from django.conf import settings

    for script in Path(settings.BASE_DIR, "static", "js").glob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "document.write" not in text, script


def test_script_in_filename_is_escaped_and_never_reaches_storage_paths(world, client_for, settings):
    client = client_for(world.owner)
    response = _upload(client, world.workspace, f"../../../etc/{PAYLOAD}.txt", b"Plain agreement text for a test.")
    assert response.status_code == 200, response.content
    document = Document.objects.get(workspace=world.workspace, original_name__contains="alert")
    # Stored under our own name: workspace and document ids, never the uploader's path or name.
    assert document.file.name == f"documents/{world.workspace.id}/{document.id}.text"
    assert ".." not in document.original_name and "/" not in document.original_name
    from webapp.reports.models import Report

    Report.objects.create(document=document, kind="ingestion_facts", title="Facts", facts=[])
    for url in _pages_of(world, document):
        body = client.get(url).content
        assert b"<script>alert" not in body and b"<img src=x" not in body, url
    _assert_json_only(client, _json_of(world, document))
    page = client.get(reverse("documents:detail", args=[document.id])).content
    assert b"&lt;img src=x onerror=alert(1)&gt;" in page  # the name, shown as text
    download = client.get(reverse("documents:file", args=[document.id]))
    disposition = download["Content-Disposition"]
    # A plain file name: no folder a browser could be steered into, no second header smuggled in.
    assert disposition.startswith("attachment;") and "/" not in disposition.split("filename", 1)[1]
    assert "\\" not in disposition and "\n" not in disposition and "\r" not in disposition
    assert download["Content-Type"] == "application/octet-stream"


def test_script_in_document_text_and_metadata_is_escaped(world, client_for):
    from webapp.reports.models import Report

    client = client_for(world.owner)
    document = world.document
    Document.objects.filter(pk=document.pk).update(
        text=PAYLOAD * 3, ingest_info={"title": PAYLOAD, "author": PAYLOAD, "warnings": [PAYLOAD]},
        stage=PAYLOAD[:200], error_message=PAYLOAD,
    )
    Report.objects.filter(document=document).update(title=PAYLOAD[:200])
    for url in _pages_of(world, document):
        body = client.get(url).content
        assert b"<script>alert" not in body, url
    _assert_json_only(client, _json_of(world, document))
    detail = client.get(reverse("documents:detail", args=[document.id])).content
    assert ESCAPED in detail


def test_script_in_model_output_is_escaped_on_the_report_page_and_api(world, client_for, api_for):
    from webapp.reports.models import Report

    Report.objects.filter(document=world.document).update(
        engine=PAYLOAD[:80], facts=[{"label": PAYLOAD, "value": PAYLOAD}]
    )
    page = client_for(world.owner).get(reverse("reports:detail", args=[world.document.id])).content
    assert b"<script>alert" not in page and ESCAPED in page
    api = api_for(world.owner).get(reverse("api:document-report", args=[world.document.id]))
    assert api["Content-Type"] == "application/json"
    assert api.json()["facts"][0]["value"] == PAYLOAD  # data, served as JSON, never as HTML


def test_audit_csv_export_defuses_formulas(world, client_for):
    client = client_for(world.owner)
    _upload(client, world.workspace, "=HYPERLINK(A1)+cmd.txt", b"Another agreement entirely, signed.")
    response = client.get(reverse("audit:csv", args=[world.workspace.id]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    uploads = [r for r in rows if r["action"] == "document_upload"]
    assert uploads and all(not r["object"].startswith("=") for r in uploads)
    assert any(r["object"].startswith("'=HYPERLINK") for r in uploads)


def test_api_answers_json_only_and_never_sniffable(world, api_for):
    response = api_for(world.owner).get(reverse("api:document-detail", args=[world.document.id]) + "?format=html")
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"

"""Uploads are judged by their bytes, streamed to storage, hashed, bounded, and deduplicated."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from webapp.documents.models import Document


def _named(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def _png_bytes() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")


def _stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "documents"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def upload(login, workspace):
    client = login(workspace.created_by)
    url = reverse("documents:upload", args=[workspace.id])

    def _upload(*files, json: bool = True):
        headers = {"Accept": "application/json"} if json else {}
        return client.post(url, {"files": list(files)}, headers=headers)

    return _upload


def test_real_pdf_is_stored_with_its_hash_and_kind(upload, workspace, corpus):
    path = next((corpus / "contracts_cuad").glob("*.pdf"))
    before = len(_stored_files())
    response = upload(_named(path.read_bytes(), path.name))
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["outcome"] == "stored"
    document = Document.objects.get(workspace=workspace)
    assert document.kind == "pdf"
    assert document.status == "queued"
    assert document.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert document.size == path.stat().st_size
    assert document.original_name == path.name
    assert len(_stored_files()) == before + 1
    with document.file.open("rb") as stored:
        assert stored.read() == path.read_bytes()
    # Nothing the uploader chose appears in the storage path.
    assert path.stem not in document.file.name


def test_empty_pdf_from_corpus_is_rejected_and_nothing_is_stored(upload, workspace, corpus):
    before = _stored_files()
    response = upload(_named((corpus / "pdfs" / "empty.pdf").read_bytes(), "empty.pdf"))
    [result] = response.json()["results"]
    assert result["outcome"] == "rejected"
    assert "empty" in result["message"].lower()
    assert not Document.objects.exists()
    assert _stored_files() == before


def test_png_renamed_pdf_is_rejected_by_content(upload, workspace):
    before = _stored_files()
    response = upload(_named(_png_bytes(), "contract.pdf"))
    [result] = response.json()["results"]
    assert result["outcome"] == "rejected"
    assert "PNG" in result["message"]
    assert not Document.objects.exists()
    assert _stored_files() == before


def test_file_over_the_limit_is_dropped_while_streaming(upload, workspace, settings):
    settings.QUIRE_MAX_UPLOAD_BYTES = 64 * 1024
    before = _stored_files()
    big = _named(b"A line of plain text that repeats.\n" * 4000, "big.txt")  # ~140 KB
    small = _named(b"A small plain text file.\n", "small.txt")
    response = upload(big, small)
    results = {r["name"]: r for r in response.json()["results"]}
    assert results["big.txt"]["outcome"] == "rejected"
    assert "limit" in results["big.txt"]["message"]
    assert results["small.txt"]["outcome"] == "stored"
    assert list(Document.objects.values_list("original_name", flat=True)) == ["small.txt"]
    assert len(_stored_files()) == len(before) + 1


def test_same_bytes_twice_are_reported_as_duplicate_not_stored_again(upload, workspace):
    body = b"Master services agreement between A and B.\n"
    first = upload(_named(body, "msa.txt")).json()["results"][0]
    second = upload(_named(body, "msa-copy.txt")).json()["results"][0]
    assert first["outcome"] == "stored"
    assert second["outcome"] == "duplicate"
    assert "msa.txt" in second["message"]
    assert Document.objects.count() == 1


def test_several_files_in_one_request_each_get_an_outcome(upload, workspace, corpus):
    docx = corpus / "docx" / "common-paper-mutual-nda.docx"
    html = b"<!doctype html><html><head><title>T</title></head><body><p>Hello</p></body></html>"
    md = b"# Heading\n\nSome *text* with a [link](https://example.com).\n\n## Second\n- item\n"
    response = upload(_named(docx.read_bytes(), "nda.bin"), _named(html, "page.txt"), _named(md, "notes"))
    kinds = {r["name"]: r["outcome"] for r in response.json()["results"]}
    assert kinds == {"nda.bin": "stored", "page.txt": "stored", "notes": "stored"}
    stored = dict(Document.objects.values_list("original_name", "kind"))
    assert stored == {"nda.bin": "docx", "page.txt": "html", "notes": "markdown"}


def test_text_claiming_to_be_pdf_is_stored_as_text(upload, workspace):
    f = io.BytesIO(b"Just words, no PDF here.\n")
    f.name = "fake.pdf"
    f.content_type = "application/pdf"
    upload(f)
    assert Document.objects.get().kind == "text"


def test_plain_form_post_without_javascript_redirects_with_messages(upload, workspace):
    response = upload(_named(b"Plain words.\n", "a.txt"), _named(b"", "b.pdf"), json=False)
    assert response.status_code == 302
    page = response.client.get(response["Location"])
    text = page.content.decode()
    assert "a.txt: Uploaded" in text
    assert "b.pdf: The file is empty." in text


def test_hostile_filename_is_escaped_everywhere_it_is_shown(upload, login, workspace):
    name = '<img src=x onerror=alert(1)>.txt'
    upload(_named(b"harmless body\n", name))
    document = Document.objects.get()
    client = login(workspace.created_by)
    for url in (reverse("workspaces:detail", args=[workspace.id]), reverse("documents:detail", args=[document.id])):
        html = client.get(url).content.decode()
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;.txt" in html


def test_path_in_filename_is_reduced_to_its_last_part(upload, workspace):
    upload(_named(b"text\n", "../../etc/passwd"))
    assert Document.objects.get().original_name == "passwd"


def test_upload_enqueues_the_pipeline_only_after_commit(upload, workspace, django_capture_on_commit_callbacks, monkeypatch):
    started = []
    monkeypatch.setattr("webapp.pipeline.queue.journey_start", lambda *, document_id, **_: started.append(document_id))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload(_named(b"Some agreement text.\n", "x.txt"))
    assert started == []  # nothing sent while the transaction was open
    for callback in callbacks:
        callback()
    assert started == [Document.objects.get().id]

"""Plain-text, Markdown and HTML ingestion: encodings, newlines, pages, visible text only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analysis.errors import NoTextError
from analysis.ingest import ingest
from analysis.ingest import text as text_reader


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- text and Markdown ---


def test_cp1252_bytes_decode_to_the_right_characters(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "legacy.txt", b"Caf\xe9 \x93quoted\x94 costs \x8010.\n"))
    assert document.kind == "text"
    assert document.text == "Café “quoted” costs €10.\n"


def test_utf16_with_bom(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "u16.txt", "Zürich\r\nGenève\r\n".encode("utf-16")))
    assert document.text == "Zürich\nGenève\n"


def test_utf8_bom_is_not_part_of_the_text(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "bom.txt", "\ufeffHello".encode("utf-8")))
    assert document.text == "Hello"


def test_crlf_and_lone_cr_become_newlines(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "crlf.txt", b"one\r\ntwo\rthree\r\n\r\nfour"))
    assert document.text == "one\ntwo\nthree\n\nfour"


def test_form_feeds_split_pages(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "paged.txt", b"Page one.\fPage two.\r\n\fPage three."))
    assert len(document.pages) == 3
    assert [document.page_text(n) for n in (1, 2, 3)] == ["Page one.", "Page two.\n", "Page three."]
    assert document.text == "Page one.\n\nPage two.\n\n\nPage three."


def test_nul_characters_are_stripped(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "nul.txt", b"Clause\x00 one"), kind="text")
    assert document.text == "Clause one"


def test_chunk_boundaries_do_not_split_characters_or_crlf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_reader, "_CHUNK_BYTES", 3)
    source = "ab\r\ncé€\r\n\r\nend\r"
    document = ingest(write(tmp_path, "small.txt", source.encode("utf-8")), kind="text")
    assert document.text == "ab\ncé€\n\nend\n"


def test_ascii_start_then_cp1252_beyond_the_head_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_reader, "_CHUNK_BYTES", 16)
    data = b"plain ascii " * 10 + b"then \x93smart quotes\x94"
    document = ingest(write(tmp_path, "late.txt", data), kind="text")
    assert document.text.endswith("then “smart quotes”")


def test_stray_bad_byte_in_utf8_is_replaced_not_misdecoded(tmp_path: Path) -> None:
    data = "Köln café ".encode("utf-8") + b"\xff" + " Straße".encode("utf-8")
    document = ingest(write(tmp_path, "stray.txt", data), kind="text")
    assert document.text == "Köln café \ufffd Straße"


def test_cuad_text_reads_as_one_page(corpus: Path) -> None:
    path = corpus / (
        "contracts_cuad/"
        "MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement.txt"
    )
    document = ingest(path)
    assert document.kind == "text"
    assert len(document.pages) == 1
    assert document.text.startswith("EXHIBIT 10.15")


def test_markdown_kind_is_kept(tmp_path: Path) -> None:
    data = b"# Heading\n\nSome [link](https://example.com).\n\n```\ncode\n```\n"
    document = ingest(write(tmp_path, "notes.md", data))
    assert document.kind == "markdown"
    assert document.text == data.decode()


def test_whitespace_only_text_fails_as_no_text(tmp_path: Path) -> None:
    with pytest.raises(NoTextError):
        ingest(write(tmp_path, "blank.txt", b"  \n\n  \n"))


def test_progress_counts_bytes(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    ingest(write(tmp_path, "p.txt", b"x" * 100), progress=lambda *a: calls.append(a))
    assert calls[-1] == (100, 100, "Reading the text")


# --- HTML ---


PAGE = b"""<!DOCTYPE html>
<html><head><title>  Master   Agreement </title>
<meta name="author" content="Legal Team">
<style>p { color: red } .hidden-style-marker {}</style>
<script>var secret = "script-marker";</script>
</head>
<body>
<noscript>noscript-marker</noscript>
<h1>Master Agreement</h1>
<p>This   agreement
   is made&nbsp;today.</p>
<p>Second <b>bold</b> paragraph.<br>New line.</p>
<div style="display: none">hidden-div-marker</div>
<table><tr><td>Fee</td><td>USD 100</td></tr><tr><td>Term</td><td>1 year</td></tr></table>
<script>alert(1)</script>
<template><p>template-marker</p></template>
<p>Closing.</p>
</body></html>
"""


def test_html_visible_text_only(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "page.html", PAGE))
    assert document.kind == "html"
    text = document.text
    for marker in ("script-marker", "hidden-style-marker", "noscript-marker", "hidden-div-marker",
                   "template-marker", "alert(1)", "color: red"):
        assert marker not in text
    assert text == (
        "Master Agreement\n\n"
        "This agreement is made today.\n\n"
        "Second bold paragraph.\nNew line.\n\n"
        "Fee USD 100\nTerm 1 year\n\n"
        "Closing."
    )
    assert document.metadata.title == "Master Agreement"
    assert document.metadata.author == "Legal Team"
    assert len(document.pages) == 1


def test_html_external_entities_are_not_expanded(tmp_path: Path) -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        b"<html><body><p>Before &xxe; &b; after</p></body></html>"
    )
    document = ingest(write(tmp_path, "xxe.html", data), kind="html")
    assert "root:" not in document.text
    assert "aaaaaaaaaa" not in document.text
    assert "Before" in document.text and "after" in document.text


def test_html_declared_legacy_charset(tmp_path: Path) -> None:
    data = (
        b'<html><head><meta charset="iso-8859-1"></head>'
        b"<body><p>Caf\xe9 \x93ok\x94</p></body></html>"
    )
    assert ingest(write(tmp_path, "l1.html", data)).text == "Café “ok”"


def test_apple_10k_inline_xbrl(corpus: Path) -> None:
    started = time.perf_counter()
    document = ingest(corpus / "long/apple_10k_2025.htm")
    elapsed = time.perf_counter() - started
    assert elapsed < 10
    assert document.kind == "html"
    assert document.word_count > 20_000
    assert "Apple" in document.text
    assert "Apple Inc." in document.text[:2000]
    # The ix:header block holds XBRL contexts such as "c-1" and period dates, hidden by CSS.
    assert "xbrli" not in document.text
    assert "http://fasb.org" not in document.text

"""Plain-text, Markdown and HTML ingestion: encodings, newlines, pages, visible text only."""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from pathlib import Path

import pytest

from analysis.errors import NoTextError
from analysis.ingest import ingest
from analysis.ingest import html as html_reader
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


FRENCH = (
    "Le présent contrat est conclu entre la société Dupont SA et Mme Hélène Lefèvre, "
    "domiciliée à Besançon. Les parties conviennent de ce qui suit : l’exécution du "
    "contrat sera réalisée dans les délais prévus à l’article 3, à défaut de quoi une "
    "pénalité de 500 € par jour de retard sera due.\n"
)
JAPANESE = (
    "本契約は、甲と乙の間で締結されるものとし、両当事者は以下の条項に同意する。"
    "秘密情報は第三者に開示してはならない。本契約の準拠法は日本法とする。\n"
)
CHINESE = "本协议由甲方和乙方签订，双方同意以下条款。保密信息不得向任何第三方披露。本协议自签署之日起生效。\n"
RUSSIAN = (
    "Настоящий договор заключен между сторонами о нижеследующем. Стороны обязуются "
    "соблюдать конфиденциальность полученной информации.\n"
)


@pytest.mark.parametrize(
    ("source", "codec"),
    [
        (FRENCH.replace("’", "'").replace("€", "EUR"), "latin-1"),
        (FRENCH, "cp1252"),
        (JAPANESE, "shift_jis"),
        (CHINESE, "gb2312"),
        (RUSSIAN, "cp1251"),
    ],
    ids=["french-latin1", "french-cp1252", "japanese-sjis", "chinese-gb2312", "russian-cp1251"],
)
def test_legacy_code_pages_are_detected(tmp_path: Path, source: str, codec: str) -> None:
    document = ingest(write(tmp_path, f"{codec}.txt", source.encode(codec)))
    assert document.kind == "text"
    assert document.text == source


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(tmp_path: Path, codec: str) -> None:
    source = "Zürich, Genève and Besançon.\nSecond line.\n"
    document = ingest(write(tmp_path, "u16.txt", source.encode(codec)))
    assert document.kind == "text"
    assert document.text == source


def test_legacy_bytes_far_into_the_file_are_detected_from_a_sample_around_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lowered sample size puts the first non-ASCII byte well past the first sample.
    monkeypatch.setattr(text_reader, "SAMPLE_BYTES", 4096)
    monkeypatch.setattr(text_reader, "_SAMPLE_LEAD_BYTES", 64)
    prefix = "Section 1. Plain English preamble.\n" * 1000
    document = ingest(write(tmp_path, "late.txt", (prefix + RUSSIAN * 20).encode("cp1251")))
    assert document.text == prefix + RUSSIAN * 20


def test_undetectable_bytes_fall_back_to_cp1252(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_reader, "legacy_encoding", lambda sample: None)
    document = ingest(write(tmp_path, "odd.txt", b"Price: 10 \x80, na\xefve"), kind="text")
    assert document.text == "Price: 10 €, naïve"


def long_text(lines: int, words_per_line: int = 10) -> str:
    return "".join(f"L{n} " + "word " * (words_per_line - 1) + "\n" for n in range(lines))


def test_short_text_is_one_real_page(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "short.txt", long_text(290).encode()))
    assert len(document.pages) == 1
    assert not document.pages[0].estimated
    assert document.warnings == ()


def test_long_text_gets_estimated_pages_at_line_ends(tmp_path: Path) -> None:
    source = long_text(1000)  # 10,000 words
    document = ingest(write(tmp_path, "long.txt", source.encode()))
    assert document.text == source  # estimating pages never changes the text
    assert len(document.pages) == 20
    assert document.metadata.page_count == 20
    assert all(page.estimated for page in document.pages)
    assert document.warnings == (text_reader.ESTIMATED_PAGES_WARNING,)
    for page in document.pages:
        page_text = document.page_text(page.number)
        assert page_text.startswith("L")
        assert 490 <= len(page_text.split()) <= 510
    assert document.pages[-1].end == len(source)


def test_form_feed_pages_are_real_even_when_long(tmp_path: Path) -> None:
    source = long_text(400) + "\f" + long_text(400)
    document = ingest(write(tmp_path, "ff.txt", source.encode()))
    assert len(document.pages) == 2
    assert not any(page.estimated for page in document.pages)


def test_a_text_without_line_breaks_is_still_paged(tmp_path: Path) -> None:
    document = ingest(write(tmp_path, "oneline.txt", ("word " * 50_000).encode()))
    assert len(document.pages) >= 90
    assert all(len(document.page_text(p.number).split()) <= 500 for p in document.pages)


def test_memory_stays_near_the_size_of_the_text(tmp_path: Path) -> None:
    line = "The Licensee shall pay the fees set out in Schedule 2 within thirty days.\r\n"
    path = write(tmp_path, "big.txt", (line * 400_000).encode())  # about 30 MB
    size = path.stat().st_size
    tracemalloc.start()
    try:
        document = ingest(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(document.text) == size - 400_000
    assert len(document.pages) > 1000
    # The decoded text, plus the chunks it is joined from, plus small change.
    assert peak < 2.5 * size, peak / size


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
    # Facts tagged inline (ix:nonFraction) are shown numbers and stay in the text.
    assert "Total net sales $ 416,161" in document.text
    assert len(document.pages) > 40
    assert all(page.estimated for page in document.pages)
    assert document.warnings == (html_reader.ESTIMATED_PAGES_WARNING,)


def test_apple_10k_contains_the_reference_text_of_item_1(corpus: Path) -> None:
    reference = json.loads((corpus / "long/apple_10k_2025_item1_business.json").read_text())
    sentences = [
        sentence
        for sentence in re.split(r"(?<=[.!?])\s+", reference["item1_business_text"])
        if len(sentence.split()) >= 4
    ]
    assert len(sentences) > 50
    # The reference breaks lines around superscripts ("iPhone\n®\nis"), so white space is
    # dropped altogether before comparing.
    ours = re.sub(r"\s+", "", ingest(corpus / "long/apple_10k_2025.htm").text)
    found = [sentence for sentence in sentences if re.sub(r"\s+", "", sentence) in ours]
    assert len(found) >= 0.9 * len(sentences)


def test_inline_xbrl_facts_keep_their_visible_text(tmp_path: Path) -> None:
    data = (
        b'<html xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"><body>'
        b'<div style="display:none"><ix:header><ix:hidden>'
        b'<ix:nonNumeric name="dei:AmendmentFlag" contextRef="c-1">false</ix:nonNumeric>'
        b"</ix:hidden></ix:header></div>"
        b'<p>Net sales were $<ix:nonFraction name="us-gaap:Revenues" contextRef="c-1" '
        b'unitRef="usd" decimals="-6" scale="6">416,161</ix:nonFraction> million in '
        b'<ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="c-1">2025'
        b"</ix:nonNumeric>.</p></body></html>"
    )
    document = ingest(write(tmp_path, "ixbrl.htm", data))
    assert document.text == "Net sales were $416,161 million in 2025."


def test_long_html_gets_estimated_pages_at_paragraphs(tmp_path: Path) -> None:
    paragraphs = "".join(f"<p>P{n} " + "word " * 99 + "</p>" for n in range(40))
    data = f"<html><body>{paragraphs}</body></html>".encode()
    document = ingest(write(tmp_path, "long.html", data))
    assert len(document.pages) == 8
    assert all(page.estimated for page in document.pages)
    assert all(document.page_text(p.number).startswith("P") for p in document.pages)
    assert document.warnings == (html_reader.ESTIMATED_PAGES_WARNING,)


def test_html_without_a_declared_charset_is_detected(tmp_path: Path) -> None:
    data = f"<html><body><p>{RUSSIAN.strip()}</p></body></html>".encode("cp1251")
    assert ingest(write(tmp_path, "ru.html", data)).text == RUSSIAN.strip()

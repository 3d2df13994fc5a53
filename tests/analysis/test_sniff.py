"""Sniffing decides a file's kind from its bytes, whatever the file is called."""

from __future__ import annotations

import random
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from analysis.errors import CorruptDocumentError, EmptyDocumentError, UnsupportedTypeError
from analysis.ingest import describe, sniff
from analysis.ingest.sniff import HEAD_BYTES, KINDS

CONTRACT = (
    "contracts_cuad/"
    "MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement"
)
CUAD_PDF = f"{CONTRACT}.pdf"
CUAD_TXT = f"{CONTRACT}.txt"


def png_bytes() -> bytes:
    """A valid 1x1 PNG, built by hand so no image library is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def test_cuad_contract_pdf_is_pdf(corpus: Path) -> None:
    assert sniff(corpus / CUAD_PDF) == "pdf"


def test_corpus_docx_files_are_docx(corpus: Path) -> None:
    paths = sorted((corpus / "docx").glob("*.docx"))
    assert paths
    assert {sniff(path) for path in paths} == {"docx"}


def test_inline_xbrl_filing_is_html(corpus: Path) -> None:
    assert sniff(corpus / "long/apple_10k_2025.htm") == "html"


def test_cuad_text_is_text(corpus: Path) -> None:
    assert sniff(corpus / CUAD_TXT) == "text"


def test_redacted_contract_text_is_not_mistaken_for_markdown(corpus: Path) -> None:
    # Its "[***](EUR[***])" redactions look like Markdown links to a naive pattern.
    path = corpus / (
        "contracts_cuad/CoherusBiosciencesInc_20200227_10-K_EX-10.29_12021376_EX-10.29_"
        "Development Agreement.txt"
    )
    assert sniff(path) == "text"


def test_markdown_file(tmp_path: Path) -> None:
    text = (
        "# Master services agreement\n\n"
        "See [the schedule](https://example.com/s).\n\n"
        "- scope\n- fees\n"
    )
    assert sniff(write(tmp_path, "notes.txt", text)) == "markdown"


def test_plain_text_with_a_dash_list_is_text(tmp_path: Path) -> None:
    text = "Terms of payment:\n- net 30\n- late fee 1%\n"
    assert sniff(write(tmp_path, "notes.md", text)) == "text"


def test_html_fragment_and_doctype(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "a", "<!-- c -->\n<!DOCTYPE html><p>x</p>")) == "html"
    assert sniff(write(tmp_path, "b", "<p>intro</p><BODY>text</BODY>")) == "html"


def test_utf16_with_bom_is_text(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "u16", "Hello\r\nWorld\r\n".encode("utf-16"))) == "text"


def test_cp1252_text_is_text(tmp_path: Path) -> None:
    data = b"Caf\xe9 \x93quoted\x94 and \x80 5 price list\n" * 20
    assert sniff(write(tmp_path, "legacy.txt", data)) == "text"


def test_multibyte_character_cut_at_head_boundary_is_still_text(tmp_path: Path) -> None:
    data = b"a" * (HEAD_BYTES - 1) + "é".encode() + b" more text\n"
    assert sniff(write(tmp_path, "long.txt", data)) == "text"


def test_empty_pdf_is_empty(corpus: Path) -> None:
    with pytest.raises(EmptyDocumentError) as info:
        sniff(corpus / "pdfs/empty.pdf")
    assert info.value.code == "empty"


def test_png_named_pdf_is_rejected_as_png(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTypeError) as info:
        sniff(write(tmp_path, "x.pdf", png_bytes()))
    assert "PNG" in info.value.message
    assert info.value.code == "unsupported_type"


def test_random_bytes_are_rejected(tmp_path: Path) -> None:
    data = random.Random(1234).randbytes(8192)
    with pytest.raises(UnsupportedTypeError):
        sniff(write(tmp_path, "noise.txt", data))


def test_zip_that_is_not_docx_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedTypeError) as info:
        sniff(path)
    assert "ZIP archive" in info.value.message


def test_spreadsheet_zip_is_named(tmp_path: Path) -> None:
    path = tmp_path / "book.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedTypeError, match="Excel"):
        sniff(path)


def test_truncated_docx_is_sniffed_as_docx_when_its_head_names_word_parts(
    corpus: Path, tmp_path: Path
) -> None:
    # The central directory is gone, so only the local headers in the head can tell.
    data = (corpus / "docx/bonterms-professional-services-agreement.docx").read_bytes()
    assert sniff(write(tmp_path, "cut.docx", data[: len(data) // 2])) == "docx"


def test_truncated_office_zip_without_word_parts_in_its_head_is_damaged(
    corpus: Path, tmp_path: Path
) -> None:
    # This file's first 64 KiB hold only package and custom-XML parts.
    data = (corpus / "docx/common-paper-cloud-service-agreement.docx").read_bytes()
    with pytest.raises(CorruptDocumentError):
        sniff(write(tmp_path, "cut.docx", data[: len(data) // 2]))


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "JPEG"),
        (b"GIF89a\x01\x00\x01\x00", "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32, ".doc"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 9, "executable"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "executable"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip"),
    ],
)
def test_binary_formats_are_named(tmp_path: Path, data: bytes, what: str) -> None:
    with pytest.raises(UnsupportedTypeError) as info:
        sniff(write(tmp_path, "upload.pdf", data + b"\x00" * 64))
    assert what in info.value.message


def test_filename_is_ignored(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "contract.pdf", "Just words.\n")) == "text"


def test_pdf_header_after_leading_junk(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "junk", b"\r\n" * 10 + b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")) == "pdf"


def test_every_kind_has_a_label() -> None:
    assert [describe(kind) for kind in KINDS] == [
        "PDF",
        "Word document (DOCX)",
        "Plain text",
        "Markdown",
        "HTML",
    ]

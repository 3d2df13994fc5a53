"""Ingestion facts, and the pipeline that stores them with the first pass before a language model reads anything."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.errors import (
    CorruptDocumentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    IngestError,
    PasswordRequiredError,
    QuireError,
    UnsupportedTypeError,
)
from analysis.facts import Fact, ingestion_facts
from analysis.ingest import IngestedDocument, ingest
from analysis.first_pass.record import FirstPassRecord
from analysis.pipeline import RESULT_TITLES, AnalysisResult, run

CONTRACT = (
    "contracts_cuad/"
    "MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement.pdf"
)
REPO = Path(__file__).resolve().parents[2]
DJANGO_IMPORT = re.compile(r"^\s*(?:from|import)\s+django\b", re.MULTILINE)


@pytest.fixture(scope="module")
def contract(corpus: Path) -> IngestedDocument:
    return ingest(corpus / CONTRACT)


def facts_by_label(facts: tuple[Fact, ...]) -> dict[str, str]:
    return {fact.label: fact.value for fact in facts if fact.label != "Warning"}


def test_run_reports_ingestion_facts_and_the_first_pass_of_a_contract(contract: IngestedDocument) -> None:
    steps: list[tuple[float, str]] = []
    result = run(contract, progress=lambda fraction, step: steps.append((fraction, step)))
    assert isinstance(result, AnalysisResult)
    assert result.kind == "contract"  # the playbook the first pass chose for it
    assert result.title == "Contract: first pass" == RESULT_TITLES[result.kind]
    facts = facts_by_label(result.facts)
    assert facts["Type"] == "PDF"
    assert facts["Pages"] == str(len(contract.pages))
    assert facts["Words"] == f"{contract.word_count:,}"
    assert facts["Characters"] == f"{len(contract.text):,}"
    assert facts["Pages without text"] == "0"
    assert steps == [(0.5, "First pass: structure, key terms and clauses"), (1.0, "Recording the first pass")]
    assert isinstance(result.first_pass, FirstPassRecord) and result.first_pass.available
    assert result.first_pass.format == 1 and result.first_pass.error is None
    assert result.first_pass.sections and result.first_pass.key_terms and result.first_pass.party_names


def test_a_first_pass_that_read_no_contract_makes_a_report(contract: IngestedDocument, monkeypatch) -> None:
    from analysis.first_pass import pipeline as first_pass_pipeline

    monkeypatch.setattr(first_pass_pipeline, "first_pass_record", lambda found, document: FirstPassRecord())
    result = run(contract)
    assert (result.kind, result.title) == ("report", "Report: first pass") and result.first_pass.available


def test_a_first_pass_that_breaks_keeps_the_report_and_says_so(contract: IngestedDocument, monkeypatch) -> None:
    from analysis.first_pass import pipeline as first_pass_pipeline

    def broken(document):
        raise RuntimeError("boom")

    monkeypatch.setattr(first_pass_pipeline, "first_pass", broken)
    result = run(contract)
    assert result.first_pass == FirstPassRecord.failed("The first pass failed (RuntimeError).")
    assert result.first_pass.to_json() == {"format": 1, "error": "The first pass failed (RuntimeError)."}
    assert (result.kind, result.title) == ("report", "Report: first pass") and result.facts


class _WordEngine:
    """Just enough of the Engine protocol for the pipeline: a tokenizer and a context size."""

    model_id = "words"
    max_context = 1000

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_run_with_an_engine_adds_its_token_count_and_no_findings(contract: IngestedDocument) -> None:
    result = run(contract, engine=_WordEngine())
    facts = facts_by_label(result.facts)
    assert facts["Tokens (the engine model's own tokenizer)"] == f"{contract.word_count:,}"
    assert facts["Fits the engine's context in one piece"].startswith("no: ")


def test_estimated_tokens_are_characters_divided_by_four() -> None:
    document = IngestedDocument.from_pages("text", ["abcdefghij"])
    facts = facts_by_label(ingestion_facts(document))
    assert facts["Characters"] == "10"
    assert facts["Estimated tokens (characters ÷ 4)"] == "3"


def test_metadata_and_warnings_become_facts(corpus: Path) -> None:
    scanned = ingestion_facts(ingest(corpus / "pdfs/scan-bad.pdf", ocr=False))
    assert facts_by_label(scanned)["Pages without text"] == "1"
    assert facts_by_label(scanned)["Pages with no text layer (not read)"] == "1"
    assert any(f.label == "Warning" and "no text layer" in f.value for f in scanned)

    bonterms = ingest(corpus / "docx/bonterms-professional-services-agreement.docx")
    described = facts_by_label(ingestion_facts(bonterms))
    assert described["Title"] == "Example Cover Page for Bonterms PSA"
    assert described["Author"] == "Bonterms"


def test_absent_metadata_is_not_invented() -> None:
    labels = {fact.label for fact in ingestion_facts(IngestedDocument.from_pages("text", ["x"]))}
    assert "Title" not in labels and "Author" not in labels


def test_word_count_handles_words_across_internal_slices() -> None:
    from analysis.ingest import document as document_module

    text = ("word " * 300_000) + "tail" + ("x" * 2_000_000) + " end"
    assert document_module.count_words(text) == len(text.split())


def test_error_codes() -> None:
    assert QuireError("x").code == "error"
    codes = {
        IngestError: "ingest_failed",
        EmptyDocumentError: "empty",
        UnsupportedTypeError: "unsupported_type",
        PasswordRequiredError: "password_required",
        CorruptDocumentError: "corrupt",
        DocumentTooLargeError: "too_large",
    }
    for error_class, code in codes.items():
        assert error_class.code == code
        assert issubclass(error_class, QuireError)
    error = CorruptDocumentError("This PDF is damaged.")
    assert error.message == str(error) == "This PDF is damaged."
    assert isinstance(error, IngestError)


def test_analysis_never_imports_django() -> None:
    sources = sorted((REPO / "analysis").rglob("*.py"))
    assert sources
    for source in sources:
        assert not DJANGO_IMPORT.search(source.read_text(encoding="utf-8")), source
    code = (
        "import sys, analysis.ingest, analysis.ingest.__main__, analysis.facts, analysis.pipeline;"
        "sys.exit('django' in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_command_line_summary(corpus: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "analysis.ingest", "--no-ocr", str(corpus / "pdfs/scan-bad.pdf")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert "kind: pdf" in completed.stdout
    assert "pages: 1" in completed.stdout
    assert "no text layer" in completed.stdout


def test_command_line_reports_errors(corpus: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "analysis.ingest", str(corpus / "pdfs/empty.pdf")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert completed.returncode == 2
    assert "error (empty): The file is empty." in completed.stderr


def test_run_derives_the_obligations_of_the_same_first_pass(corpus: Path) -> None:
    document = ingest(corpus / "contracts_cuad" / "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.txt")
    result = run(document)
    assert [(o.kind, o.date) for o in result.obligations] == [("effective", "2019-11-01"), ("expiry", "2020-12-31")]
    assert all(document.text[o.passage.start:o.passage.end] == o.passage.text for o in result.obligations)

"""The first pass's stored form: the typed record writes exactly the JSON stored reports already hold, reads it
back unchanged, reads the two older shapes (no first pass yet, a failed one), and refuses what it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.errors import QuireError
from analysis.first_pass import pipeline as first_pass_pipeline
from analysis.first_pass.record import (
    FORMAT,
    FirstPassFormatError,
    FirstPassRecord,
    FirstPassRecordError,
    StoredClause,
)
from analysis.ingest import ingest

CONTRACTS = (
    "contracts_cuad/MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement.pdf",
    "contracts_cuad/ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.PDF",
    "docx/common-paper-cloud-service-agreement.docx",
)


@pytest.mark.parametrize("name", CONTRACTS)
def test_a_real_first_pass_round_trips_through_its_stored_json(corpus: Path, name: str) -> None:
    document = ingest(corpus / name)
    record = first_pass_pipeline.first_pass_record(first_pass_pipeline.first_pass(document), document)
    stored = json.loads(json.dumps(record.to_json()))  # what a JSONField gives back
    assert record.available and record.clauses and record.sections and record.key_terms
    assert FirstPassRecord.from_json(stored) == record
    again = FirstPassRecord.from_json(stored).to_json()
    assert again == stored and json.dumps(again) == json.dumps(stored)  # same keys in the same order


def test_the_stored_json_keeps_its_shape(corpus: Path) -> None:
    """Rows written before the record existed are read by this shape: keys, rounding and order must not drift."""
    document = ingest(corpus / CONTRACTS[0])
    stored = first_pass_pipeline.as_json(first_pass_pipeline.first_pass(document), document)
    assert list(stored) == ["format", "clauses", "key_terms", "sections", "defined_terms", "cross_references",
                            "parties", "signatures"]
    assert stored["format"] == FORMAT == 1
    scores = [c["score"] for c in stored["clauses"]]
    assert scores == sorted(scores, reverse=True) and all(round(s, 4) == s for s in scores)
    assert list(stored["clauses"][0]) == ["category", "start", "end", "pages", "score"]
    assert list(stored["key_terms"][0]) == ["kind", "start", "end", "value", "pages"]
    assert list(stored["sections"][0]) == ["label", "title", "level", "start", "end", "pages"]
    assert list(stored["defined_terms"][0]) == ["term", "start", "end", "pages", "uses", "first_uses"]
    assert list(stored["parties"]) == ["start", "end", "pages", "parties"]
    assert list(stored["parties"]["parties"][0]) == ["name", "start", "end", "short_name"]
    assert all(isinstance(u, list) and len(u) == 2 for t in stored["defined_terms"] for u in t["first_uses"])


@pytest.mark.parametrize("stored", [{}, None])
def test_a_report_from_before_the_first_pass_reads_as_absent(stored) -> None:
    record = FirstPassRecord.from_json(stored)
    assert record == FirstPassRecord.absent() and not record.available and record.format is None
    assert record.clauses == () and record.parties is None and record.party_names == ()
    assert record.to_json() == {}


def test_a_failed_first_pass_reads_back_with_its_reason() -> None:
    stored = {"format": 1, "error": "The first pass failed (RuntimeError)."}
    record = FirstPassRecord.from_json(stored)
    assert record == FirstPassRecord.failed("The first pass failed (RuntimeError).")
    assert not record.available and record.error == "The first pass failed (RuntimeError)." and record.clauses == ()
    assert record.to_json() == stored


def test_a_newer_format_is_refused_with_its_own_error() -> None:
    with pytest.raises(FirstPassFormatError) as info:
        FirstPassRecord.from_json({"format": FORMAT + 1, "clauses": []})
    assert isinstance(info.value, QuireError) and info.value.code == "first_pass_format"
    assert f"format {FORMAT + 1}" in info.value.message


@pytest.mark.parametrize("stored", [
    {"clauses": []},  # no format number
    {"format": "1"},
    {"format": 1, "clauses": [{"category": "Governing Law"}]},  # no offsets
    {"format": 1, "clauses": "none"},
    {"format": 1, "parties": {"start": 0}},
    ["format", 1],
])
def test_a_damaged_first_pass_is_refused_typed(stored) -> None:
    with pytest.raises(FirstPassRecordError) as info:
        FirstPassRecord.from_json(stored)
    assert info.value.code == "first_pass_unreadable" and not isinstance(info.value, FirstPassFormatError)


def test_lists_a_first_pass_left_out_read_as_empty() -> None:
    record = FirstPassRecord.from_json({"format": 1, "clauses": [
        {"category": "Anti-Assignment", "start": 7, "end": 47, "pages": [1], "score": 0.9}]})
    assert record.clauses == (StoredClause("Anti-Assignment", 7, 47, (1,), 0.9),)
    assert record.available and record.sections == () and record.parties is None
    assert record.categories_at(0.5) == {"Anti-Assignment"} and record.categories_at(0.95) == frozenset()

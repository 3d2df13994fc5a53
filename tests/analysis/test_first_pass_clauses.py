"""The clause finder as users and scripts reach it: `python -m analysis clauses PATH --json` over a real CUAD
PDF, with offsets into exactly the text `python -m analysis.ingest PATH --text` prints, and the committed
model file (small, and loadable without pickle)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from analysis.first_pass import clause_model
from analysis.first_pass.cuad_metrics import jaccard, load_cuad_labels

ADIA = "contracts_cuad/ADIANUTRITION,INC_04_01_2005-EX-10.D2-RESELLER AGREEMENT"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300)


def test_committed_model_is_small_and_has_no_pickle():
    path = clause_model.MODEL_PATH
    assert path.stat().st_size < 20 * 2**20
    with np.load(path, allow_pickle=False) as data:  # raises if any array needed pickle
        assert int(data["format"]) == clause_model.FORMAT
    model = clause_model.ClauseModel.load(path)
    assert len(model.categories) == 41 and "Governing Law" in model.categories


@pytest.fixture(scope="module")
def adia(corpus):
    pdf = corpus / (ADIA + ".PDF")
    clauses = run("analysis", "clauses", str(pdf), "--json")
    assert clauses.returncode == 0, clauses.stderr
    text = run("analysis.ingest", str(pdf), "--text")
    assert text.returncode == 0, text.stderr
    return json.loads(clauses.stdout), text.stdout, load_cuad_labels(corpus / (ADIA + ".labels.json"))


def test_cli_rows_are_spans_of_the_ingested_text(adia):
    rows, text, _ = adia
    assert rows
    for row in rows:
        assert set(row) == {"category", "start", "end", "page", "score"}
        assert 0 <= row["start"] < row["end"] <= len(text)
        assert 0.0 <= row["score"] <= 1.0
        assert row["page"] is None or row["page"] >= 1
    assert {row["category"] for row in rows} <= set(clause_model.ClauseModel.load().categories)


def test_the_governing_law_clause_is_found_first(adia):
    rows, text, excerpts = adia
    [law] = [e.text for e in excerpts if e.category == "Governing Law"]
    best = max((r for r in rows if r["category"] == "Governing Law"), key=lambda r: r["score"])
    assert jaccard(law, text[best["start"]:best["end"]]) >= 0.5
    assert best["score"] > 0.5


def test_absent_categories_score_low(adia):
    rows, _, excerpts = adia
    present = {e.category for e in excerpts}
    absent_best = [max((r["score"] for r in rows if r["category"] == c), default=0.0)
                   for c in clause_model.ClauseModel.load().categories if c not in present]
    assert np.median(absent_best) < 0.2


def test_unreadable_file_is_a_document_error(tmp_path):
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    done = run("analysis", "clauses", str(path), "--json")
    assert done.returncode == 2 and done.stderr.startswith("empty")


def test_candidates_cover_the_expert_excerpts(corpus):
    """Every granularity CUAD labels at has a candidate: nearly every excerpt of these contracts is matched
    (CUAD's own test) by at least one candidate passage, so recall is the scorer's to lose."""
    from analysis.first_pass.candidates import candidates
    from analysis.first_pass.clause_labels import candidate_labels

    matched = total = 0
    for name in (ADIA, "contracts_cuad/CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement",
                 "contracts_cuad/ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT"):
        text = (corpus / (name + ".txt")).read_text(errors="replace")
        found = candidates(text)
        excerpts = load_cuad_labels(corpus / (name + ".labels.json"))
        labels = candidate_labels(text, found, excerpts)
        for excerpt in excerpts:
            total += 1
            matched += any(labels[excerpt.category][i] and (excerpt.text in text[c.start:c.end] if excerpt.category == "Parties"
                                                            else jaccard(excerpt.text, text[c.start:c.end]) >= 0.5)
                           for i, c in enumerate(found))
    assert total > 40
    assert matched / total >= 0.95


def test_parties_labels_follow_cuads_containment_rule(corpus):
    from analysis.first_pass.candidates import Candidate
    from analysis.first_pass.clause_labels import candidate_labels
    from analysis.first_pass.cuad_metrics import Excerpt

    text = "This Agreement is between PivX Corporation and Detto Technologies. Detto shall pay PivX."
    found = [Candidate(0, 66, "sentence", ""), Candidate(67, 88, "sentence", ""), Candidate(26, 42, "name", "")]
    labels = candidate_labels(text, found, [Excerpt("demo", "Parties", "PivX Corporation")])
    assert labels["Parties"].tolist() == [True, False, True]
    assert "Governing Law" not in labels  # no excerpts, nothing to learn a positive from


def test_model_categories_are_spelled_as_cuads_labels(corpus):
    """CUAD's description file writes "Cap on Liability", its labels "Cap On Liability": the finder must learn
    from, and answer in, the labels' spelling, or ten categories silently get no training and no score."""
    labels = json.loads((corpus / (ADIA + ".labels.json")).read_text())["labels"]
    assert sorted(clause_model.ClauseModel.load().categories) == sorted(labels)
    assert clause_model.categories(corpus) == clause_model.ClauseModel.load().categories

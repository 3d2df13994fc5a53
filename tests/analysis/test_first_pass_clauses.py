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


def test_a_party_name_broken_over_a_line_is_still_contained():
    """The metric folds white space, so a passage that breaks a party's name over a line (as PDF text and CUAD's
    own .txt files do) contains the name; the training labels must say so too, or the finder learns it is wrong."""
    from analysis.first_pass.candidates import Candidate
    from analysis.first_pass.clause_labels import candidate_labels
    from analysis.first_pass.cuad_metrics import Excerpt, matches

    text = "This Agreement is made by eGain Communications\nCorporation and Eliance  Corporation."
    found = [Candidate(0, len(text), "sentence", "")]
    excerpts = [Excerpt("demo", "Parties", "eGain Communications Corporation"),
                Excerpt("demo", "Parties", "Eliance Corporation")]
    assert all(matches("Parties", e.text, text) for e in excerpts)
    assert candidate_labels(text, found, excerpts)["Parties"].tolist() == [True]


def test_matches_say_which_excerpts_a_passage_matches():
    """A preamble naming both parties matches both Parties excerpts; a passage naming one matches that one."""
    from analysis.first_pass.candidates import Candidate
    from analysis.first_pass.clause_labels import candidate_matches
    from analysis.first_pass.cuad_metrics import Excerpt

    text = "This Agreement is between PivX Corporation and Detto Technologies. Detto shall pay PivX."
    found = [Candidate(0, 66, "sentence", ""), Candidate(67, 88, "sentence", ""), Candidate(26, 42, "name", "")]
    excerpts = [Excerpt("demo", "Parties", "PivX Corporation"), Excerpt("demo", "Parties", "Detto Technologies")]
    assert candidate_matches(text, found, excerpts) == {"Parties": {0: frozenset({0, 1}), 2: frozenset({0})}}


def test_a_passage_repeating_a_better_ones_match_is_a_repeat():
    """Stage 2 is refitted without passages whose every excerpt a better-scored passage already matched."""
    from analysis.first_pass.clause_training import _repeats

    kept = np.asarray([10, 11, 12, 13])
    matches = {10: frozenset({0, 1}), 11: frozenset({0}), 12: frozenset({1, 2})}
    # By score: 11 (matches 0), 10 (adds 1), 12 (adds 2), 13 (matches nothing: a false positive, not a repeat).
    assert _repeats(matches, kept, np.asarray([0.8, 0.9, 0.7, 0.95])).tolist() == [False, False, False, False]
    # By score: 10 (matches 0 and 1), 11 (0 again: a repeat), 12 (adds 2).
    assert _repeats(matches, kept, np.asarray([0.9, 0.8, 0.7, 0.1])).tolist() == [False, True, False, False]


def test_model_categories_are_spelled_as_cuads_labels(corpus):
    """CUAD's description file writes "Cap on Liability", its labels "Cap On Liability": the finder must learn
    from, and answer in, the labels' spelling, or ten categories silently get no training and no score."""
    labels = json.loads((corpus / (ADIA + ".labels.json")).read_text())["labels"]
    assert sorted(clause_model.ClauseModel.load().categories) == sorted(labels)
    assert clause_model.categories(corpus) == clause_model.ClauseModel.load().categories


def test_a_passage_overlapping_a_better_one_is_marked_down_once_per_overlap():
    from analysis.first_pass.candidates import Candidate

    # A section (0-100), a sentence inside it (0-40), a window over both (0-60), and a passage elsewhere.
    found = [Candidate(0, 100, "section", ""), Candidate(0, 40, "sentence", ""), Candidate(0, 60, "window", ""),
             Candidate(200, 240, "sentence", "")]
    order = np.arange(4)
    raw = np.array([0.9, 0.8, 0.7, 0.6])
    out = clause_model.suppress_overlaps(found, order, raw)
    factor = clause_model.OVERLAP_FACTOR
    assert out.tolist() == pytest.approx([0.9, 0.8 * factor, 0.7 * factor**2, 0.6])
    # Order by score, not by position in `order`: the best passage is never marked down.
    shuffled = np.array([2, 0, 3, 1])
    again = clause_model.suppress_overlaps(found, shuffled, raw[shuffled])
    assert dict(zip(shuffled.tolist(), again.tolist())) == pytest.approx(dict(zip(order.tolist(), out.tolist())))


def test_parties_are_looked_for_in_the_head_only():
    from analysis.first_pass.candidates import Candidate

    head = clause_model.PARTIES_HEAD_CHARS
    found = [Candidate(10, 40, "name", ""), Candidate(head + 10, head + 40, "sentence", "")]
    assert clause_model.eligible("Parties", found).tolist() == [True, False]
    assert clause_model.eligible("Governing Law", found) is None
    z = np.array([1.0, 5.0])
    kept, _ = clause_model.stage2_table("x" * (head + 50), found, z, clause_model.eligible("Parties", found))
    assert kept.tolist() == [0]


def test_parties_excerpts_are_written_first_in_the_head(corpus):
    """Why the finder may look for Parties in the head only: where CUAD's training contracts first write each
    labelled party name."""
    placed = in_head = 0
    for labels in sorted((corpus / "cuad_train").glob("*.labels.json")):
        text = labels.with_name(labels.name.removesuffix(".labels.json") + ".txt").read_text(errors="replace")
        for excerpt in load_cuad_labels(labels):
            at = text.find(excerpt.text) if excerpt.category == "Parties" else -1
            placed += at >= 0
            in_head += 0 <= at < clause_model.PARTIES_HEAD_CHARS
    assert placed > 1500
    assert in_head / placed > 0.9  # 1,659 of 1,778 when the limit was chosen


def test_calibration_keeps_the_order_it_was_given():
    from analysis.first_pass.clause_training import isotonic_points

    rng = np.random.default_rng(0)
    scores = rng.random(5000)
    matches = rng.random(5000) < scores**2  # a score that overstates the chance of a match
    x, y = isotonic_points(scores, matches)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0) and 0.0 <= y[0] and y[-1] <= 1.0
    model = clause_model.ClauseModel.load()
    probe = np.linspace(0.05, 0.95, 19)
    mapped = np.interp(probe, x, y)
    assert np.all(np.diff(mapped) > 0)
    assert mapped[9] == pytest.approx(0.25, abs=0.05)  # 0.5 matches a quarter of the time
    assert np.all(np.diff(model.calibrated(probe)) >= 0)


@pytest.mark.parametrize("name", [
    "SteelVaultCorp_20081224_10-K_EX-10.16_3074935_EX-10.16_Affiliate Agreement",  # "1s t day of October 2008"
    "Loop Industries, Inc. - Marketing Agreement",  # "September __, 2018"
    "LiquidmetalTechnologiesInc_20200205_8-K_EX-10.1_11968198_EX-10.1_Development Agreement",  # "as of , 2020"
    "STWRESOURCESHOLDINGCORP_08_06_2014-EX-10.1-COOPERATION AGREEMENT",  # "day of , 2014"
])
def test_dates_left_blank_or_broken_by_pdf_text_are_candidates(corpus, name):
    """The key-term reader cannot normalise these, but CUAD labels them as the agreement's date: the finder
    must be able to offer them, or that excerpt can never be found."""
    from analysis.first_pass.candidates import Kind, candidates

    text = (corpus / "cuad_train" / f"{name}.txt").read_text(errors="replace")
    [wanted] = [e.text for e in load_cuad_labels(corpus / "cuad_train" / f"{name}.labels.json")
                if e.category == "Agreement Date"]
    terms = [text[c.start:c.end] for c in candidates(text) if c.kind == Kind.TERM]
    assert any(jaccard(wanted, term) >= 0.5 for term in terms), (wanted, terms[:10])

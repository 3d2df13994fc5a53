"""CUAD's span metrics on hand-built cases whose answers are worked out in the comments, and on one
real CUAD labels file fed back to itself."""

from __future__ import annotations

import pytest

from analysis.first_pass.cuad_metrics import Excerpt, Prediction, Scores, evaluate, jaccard, load_cuad_labels
from tests.conftest import CORPUS

LAW = "Governing Law"
NAME = "Document Name"
PARTIES = "Parties"
CATEGORIES = [PARTIES, NAME, LAW]


def test_jaccard_follows_cuads_punctuation_rule():
    # CUAD deletes only . , ; : and turns / into a space: {new, york} both sides.
    assert jaccard("New York.", "new york;") == 1.0
    # "3.2/3.3" -> "32 33": {section, 32, 33} vs {section, 32} -> 2/3.
    assert jaccard("Section 3.2/3.3", "section 3.2") == pytest.approx(2 / 3)
    # Parentheses stay: {(a), b} vs {a, b} -> 1/3 (string.punctuation would have given 1.0).
    assert jaccard("(a) b", "a b") == pytest.approx(1 / 3)
    assert jaccard("...", ";") == 0.0


def test_jaccard_of_exactly_half_matches():
    excerpts = [Excerpt("c1", NAME, "Services Agreement"), Excerpt("c2", NAME, "License Agreement")]
    predictions = [Prediction("c1", NAME, "Services", 0.9),  # {services} / {services, agreement} = 1/2
                   Prediction("c2", NAME, "Exclusive License", 0.8)]  # 1/3: no match, an FP
    scores = evaluate(predictions, excerpts, CATEGORIES).overall
    # t=.9: p1 r1/2; t=.8: p1/2 r1/2. AUPR = 1/2 * 1.
    assert scores.max_recall == 0.5
    assert scores.aupr == pytest.approx(0.5)


def test_perfect_predictor():
    excerpts = [Excerpt("c1", LAW, "This Agreement is governed by the laws of New York."),
                Excerpt("c1", NAME, "Services Agreement"),
                Excerpt("c2", NAME, "Supply Agreement")]
    predictions = [Prediction(e.contract, e.category, e.text, score) for e, score in zip(excerpts, (0.9, 0.6, 0.3))]
    report = evaluate(predictions, excerpts, CATEGORIES)
    # Every threshold: fp = 0, so precision 1 all the way to recall 1; AUPR = 1 * 1.
    assert report.overall == Scores(aupr=1.0, precision_at_80_recall=1.0, precision_at_90_recall=1.0,
                                    max_recall=1.0, excerpts=3, predictions=3)
    assert report.per_category[NAME].excerpts == 2
    assert report.per_category[PARTIES] == Scores(0.0, 0.0, 0.0, 0.0, 0, 0)


def test_only_match_scores_lowest():
    excerpts = [Excerpt("c1", LAW, "governed by the laws of the State of Delaware")]
    predictions = [Prediction("c1", LAW, "The term of this Agreement is five years", 0.9),
                   Prediction("c1", LAW, "Notices shall be sent by mail", 0.8),
                   Prediction("c1", LAW, "This Agreement may be assigned", 0.7),
                   Prediction("c1", LAW, "governed by the laws of the State of Delaware", 0.1)]
    scores = evaluate(predictions, excerpts, CATEGORIES).overall
    # t=.9,.8,.7: tp 0, recall 0, precision 0. t=.1: tp 1, fp 3 -> precision 1/4, recall 1.
    # Processed precisions [1, 1/4, 1/4, 1/4, 1/4] over recalls [0, 0, 0, 0, 1]: AUPR = 1/4.
    assert scores.aupr == pytest.approx(0.25)
    assert scores.precision_at_80_recall == pytest.approx(0.25)
    assert scores.precision_at_90_recall == pytest.approx(0.25)
    assert scores.max_recall == 1.0


def test_processed_precision_and_trapezoid():
    excerpts = [Excerpt("c1", LAW, "laws of the State of New York"), Excerpt("c1", NAME, "Services Agreement")]
    predictions = [Prediction("c1", LAW, "laws of the State of New York", 0.9),
                   Prediction("c1", LAW, "Notices shall be sent by mail", 0.8),
                   Prediction("c1", NAME, "Exhibit 10.1", 0.7),
                   Prediction("c1", NAME, "Services Agreement", 0.2)]
    scores = evaluate(predictions, excerpts, CATEGORIES).overall
    # t=.9: tp1 fp0 p1 r.5; t=.8: p1/2 r.5; t=.7: p1/3 r.5; t=.2: tp2 fp2 p1/2 r1.
    # Precisions [1, 1, 1/2, 1/3, 1/2] -> processed [1, 1, 1/2, 1/2, 1/2]; recalls [0, .5, .5, .5, 1].
    # AUPR = .5 * 1 + .5 * 1/2 = 0.75; first recall >= .8 is the last point: 1/2.
    assert scores.aupr == pytest.approx(0.75)
    assert scores.precision_at_80_recall == pytest.approx(0.5)
    assert scores.precision_at_90_recall == pytest.approx(0.5)


def test_parties_containment_only_for_parties():
    prediction_text = "This Agreement is made between ACME Corp. and the Customer, each a party hereto"
    excerpts = [Excerpt("c1", PARTIES, "ACME Corp."), Excerpt("c1", NAME, "ACME Corp.")]
    predictions = [Prediction("c1", PARTIES, prediction_text, 0.8), Prediction("c1", NAME, prediction_text, 0.8)]
    # Jaccard {acme, corp} vs 13 words = 2/13 < .5, so only Parties' containment matches.
    report = evaluate(predictions, excerpts, CATEGORIES)
    assert report.per_category[PARTIES].max_recall == 1.0
    assert report.per_category[PARTIES].aupr == 1.0
    # Document Name: recall 0, precision 0 -> processed [1, 0] over recalls [0, 0]: AUPR 0.
    assert report.per_category[NAME] == Scores(0.0, 0.0, 0.0, 0.0, 1, 1)
    # Overall at t=.8: tp 1, fp 1, fn 1 -> precision 1/2, recall 1/2, never reaching .8.
    # Processed precisions [1, 1/2] over recalls [0, 1/2]: AUPR = (1 + 1/2) / 2 * 1/2 = 0.375.
    assert report.overall.max_recall == 0.5
    assert report.overall.precision_at_80_recall == 0.0
    assert report.overall.aupr == pytest.approx(0.375)


def test_parties_containment_is_case_sensitive_as_in_cuad():
    # CUAD tests `ans in pred` on the raw strings: "acme corp." does not contain "ACME Corp.".
    excerpts = [Excerpt("c1", PARTIES, "ACME Corp.")]
    predictions = [Prediction("c1", PARTIES, "made between acme corp. and the customer, each a party hereto", 0.8)]
    assert evaluate(predictions, excerpts, CATEGORIES).overall.max_recall == 0.0


def test_white_space_is_folded_before_containment():
    # A line break and a no-break space inside the excerpt; the prediction has plain spaces.
    excerpts = [Excerpt("c1", PARTIES, "ACME\nCorporation\u00a0 Ltd"),
                Excerpt("c1", LAW, "governed by\r\nthe laws\u00a0of Delaware")]
    predictions = [Prediction("c1", PARTIES, "between ACME Corporation Ltd and Beta Inc, each a party to it", 0.5),
                   Prediction("c1", LAW, "  governed by the laws of Delaware\n", 0.5)]
    assert "ACME\nCorporation\u00a0 Ltd" not in predictions[0].text  # matches only because of folding
    scores = evaluate(predictions, excerpts, CATEGORIES).overall
    assert (scores.max_recall, scores.aupr, scores.precision_at_90_recall) == (1.0, 1.0, 1.0)


def test_quote_typography_is_folded_like_white_space():
    # A PDF prints curly quotes where CUAD's excerpts have straight ones. Without folding, the Parties excerpt
    # '"Provider"' is not contained in the passage, and CUAD's word test sees '“provider”' and '"provider"'
    # as different words: the law passage below would share 3 of 7 words (Jaccard 0.43, under 0.5).
    excerpts = [Excerpt("c1", PARTIES, '"Provider"'),
                Excerpt("c1", LAW, 'the "Laws" of the "State" of Delaware')]
    predictions = [Prediction("c1", PARTIES, "Beta Inc. (the \u201cProvider\u201d) and ACME", 0.5),
                   Prediction("c1", LAW, "the \u201cLaws\u201d of the \u2018State\u2019 of Delaware", 0.5)]
    assert jaccard(excerpts[1].text, predictions[1].text) < 0.5  # the raw strings would not match
    scores = evaluate(predictions, excerpts, CATEGORIES).overall
    assert (scores.max_recall, scores.aupr) == (1.0, 1.0)


def test_quotes_fold_but_other_characters_still_count():
    # Only layout folds: a quoted passage about something else still matches nothing.
    excerpts = [Excerpt("c1", LAW, "governed by the laws of the State of Delaware")]
    predictions = [Prediction("c1", LAW, "\u201cArbitration\u201d shall be held in London under LCIA rules", 0.5)]
    assert evaluate(predictions, excerpts, CATEGORIES).overall.max_recall == 0.0


def test_question_without_excerpts_makes_false_positives():
    excerpts = [Excerpt("c1", LAW, "laws of the State of New York")]
    predictions = [Prediction("c1", LAW, "laws of the State of New York", 0.9),
                   Prediction("c1", NAME, "Services Agreement", 0.95),
                   Prediction("c1", NAME, "Master Agreement", 0.92)]
    report = evaluate(predictions, excerpts, CATEGORIES)
    # t=.95: tp0 fp1 r0; t=.92: tp0 fp2 r0; t=.9: tp1 fp2 -> p1/3 r1.
    # Processed [1, 1/3, 1/3, 1/3] over recalls [0, 0, 0, 1]: AUPR 1/3, precision at 80% 1/3.
    assert report.overall.aupr == pytest.approx(1 / 3)
    assert report.overall.precision_at_80_recall == pytest.approx(1 / 3)
    assert report.overall.predictions == 3
    assert report.per_category[LAW].aupr == 1.0
    # No excerpts: recall undefined, which CUAD scores 0.
    assert report.per_category[NAME] == Scores(0.0, 0.0, 0.0, 0.0, 0, 2)


def test_recall_below_80_gives_zero_precision_there():
    texts = ["Services Agreement", "Supply Agreement", "License Agreement", "Distribution Agreement"]
    excerpts = [Excerpt(f"c{i}", NAME, text) for i, text in enumerate(texts)]
    predictions = [Prediction(f"c{i}", NAME, text, score)
                   for i, (text, score) in enumerate(zip(texts[:3], (0.9, 0.8, 0.7)))]
    scores = evaluate(predictions, excerpts, CATEGORIES).overall
    # Recall 1/4, 2/4, 3/4 at precision 1: never 80%. AUPR = 3/4 * 1.
    assert scores.max_recall == 0.75
    assert scores.precision_at_80_recall == 0.0
    assert scores.precision_at_90_recall == 0.0
    assert scores.aupr == pytest.approx(0.75)
    assert scores.excerpts == 4


def test_duplicates_keep_highest_score_and_unasked_questions_are_ignored():
    excerpts = [Excerpt("c1", NAME, "Services Agreement"), Excerpt("c9", NAME, "Supply Agreement")]
    predictions = [Prediction("c1", NAME, "Services\nAgreement", 0.8),
                   Prediction("c1", NAME, "Services Agreement", 0.3),
                   Prediction("c1", NAME, "Exhibit 10.1", 0.5),
                   Prediction("c1", "Not A Category", "Exhibit 10.2", 0.99),
                   Prediction("c1", NAME, "   ", 0.99)]
    scores = evaluate(predictions, excerpts, CATEGORIES, contracts=["c1"]).overall
    # One question (c1, Document Name): "Services Agreement" at .8 (folded duplicates), FP at .5.
    # t=.8: p1 r1 -> AUPR 1; had the duplicate kept .3, the FP at .5 would come first: AUPR 1/2.
    assert (scores.excerpts, scores.predictions) == (1, 2)
    assert scores.aupr == 1.0


def test_real_labels_fed_back_score_perfectly():
    path = CORPUS / "contracts_cuad" / "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.labels.json"
    if not path.is_file():
        pytest.skip(f"shared corpus file not found: {path}")
    excerpts = load_cuad_labels(path)
    assert {e.contract for e in excerpts} == {"ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT"}
    assert len(excerpts) == 16  # the non-empty "context" entries of the file's 41 categories
    categories = sorted({e.category for e in excerpts} | {"Renewal Term"})
    predictions = [Prediction(e.contract, e.category, e.text, 1.0) for e in excerpts]
    report = evaluate(predictions, excerpts, categories)
    assert report.overall.max_recall == 1.0
    assert report.overall.precision_at_80_recall == 1.0
    assert report.overall.precision_at_90_recall == 1.0
    assert report.overall.aupr == 1.0
    assert report.per_category["Renewal Term"].excerpts == 0

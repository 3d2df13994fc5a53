"""CUAD's own span metrics (AUPR, precision at 80% / 90% recall), so Quire's first pass can be scored
on the same scale as the CUAD paper (Hendrycks et al. 2021) without CUAD's SQuAD-shaped files.

Followed from TheAtticusProject/cuad `evaluate.py` (commit 6667285):
- `get_jaccard`: delete ".", ",", ";", ":"; lower-case; "/" becomes a space; `split()`; Jaccard of the
  two word SETS (CUAD removes only those four marks, not all of `string.punctuation`).
- `compute_precision_recall`: IOU_THRESH = 0.5; a question with no answers makes every prediction a
  false positive; otherwise each answer is a TP if any prediction matches it (else FN) and each
  prediction matching no answer is an FP; for "Parties", `ans in pred` also matches (case-sensitive,
  as in CUAD). Precision/recall are micro-totals over all questions; recall is undefined with no
  excerpts, which CUAD's `get_aupr` turns into 0 (so do we, for every score).
- `get_preds`: empty predicted texts are dropped and predictions are keyed by text within a question.
- `process_precisions`: each precision becomes the max of those at equal or higher recall.
- `get_precisions_recalls` / `get_aupr`: the curve starts at precision 1, recall 0; AUPR is the
  trapezoid integral of processed precision over recall (`sklearn.metrics.auc` is `np.trapz`).
- `get_prec_at_recall`: the processed precision at the first point whose recall >= R, else 0.

Deliberate changes:
- Layout is folded in predictions and excerpts first (`fold_layout`): any run of Unicode white space
  becomes one space (ends stripped), and typographic quotes become straight ones. CUAD's `split()`
  already splits on any white space, so the first changes only the Parties containment test and
  de-duplication (a labelled excerpt with a line break is still "in" a prediction with a space there).
  The second matters whenever a passage is read from a PDF: the PDFs print “Party” where CUAD's
  .txt and excerpts have "Party", and CUAD's word test would count the two as different words.
- Thresholds are the distinct prediction scores (score >= t), not CUAD's grid 0.99, 0.98 .. 0.01,
  0.001, 0 with prob > conf; every point of the curve is then a real operating point, and the last
  point (all predictions) is kept in precision-at-recall (CUAD's zip with `confs` drops it).
- Duplicate texts in one question keep their highest score (CUAD keeps the last one seen).
- Matches are computed once per (prediction, excerpt) pair; the sweep is then a sort and a count.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.anchoring import DOUBLE_QUOTES, SINGLE_QUOTES

IOU_THRESH = 0.5
PARTIES = "Parties"  # the one category where an excerpt contained in the prediction also matches
_trapezoid = getattr(np, "trapezoid", None) or np.trapz


@dataclass(frozen=True)
class Prediction:
    contract: str
    category: str
    text: str
    score: float
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Excerpt:
    contract: str
    category: str
    text: str


@dataclass(frozen=True)
class Scores:
    aupr: float
    precision_at_80_recall: float
    precision_at_90_recall: float
    max_recall: float
    excerpts: int
    predictions: int  # after dropping empty texts and de-duplicating within a question


@dataclass(frozen=True)
class Report:
    overall: Scores
    per_category: dict[str, Scores]


def fold_space(text: str) -> str:
    return " ".join(text.split())


_ASCII_QUOTES = str.maketrans({**dict.fromkeys(SINGLE_QUOTES, "'"), **dict.fromkeys(DOUBLE_QUOTES, '"')})


def fold_quotes(text: str) -> str:
    """Typographic quotes as straight ones (the characters the report's anchoring folds as quotes). CUAD's .txt
    files and excerpts write straight quotes where the PDFs print curly ones, and CUAD's word test counts '"Party"'
    and '\u201cParty\u201d' as different words, so a passage read from the PDF can miss an excerpt it matches word
    for word. Folded on both sides wherever quote typography counts as layout, like white space."""
    return text.translate(_ASCII_QUOTES)


def fold_layout(text: str) -> str:
    """What the metric compares: white space and quote typography folded, every other character as written."""
    return fold_space(fold_quotes(text))


def _words(text: str) -> frozenset[str]:
    for mark in ".,;:":
        text = text.replace(mark, "")
    return frozenset(text.lower().replace("/", " ").split())


def jaccard(excerpt: str, prediction: str) -> float:
    """CUAD's `get_jaccard`; 0 where both sides have no words (CUAD would divide by zero)."""
    a, b = _words(excerpt), _words(prediction)
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _matched(category: str, answer: str, answer_words: frozenset[str], text: str, words: frozenset[str]) -> bool:
    union = len(answer_words | words)
    return bool(union and len(answer_words & words) / union >= IOU_THRESH) or (category == PARTIES and answer in text)


def matches(category: str, excerpt: str, prediction: str) -> bool:
    """CUAD's test of one prediction against one labelled excerpt, layout folded in both (fold_layout)."""
    answer, text = fold_layout(excerpt), fold_layout(prediction)
    return _matched(category, answer, _words(answer), text, _words(text))


def _scores(tp_at: list[float], fp_at: list[float], scores: list[float], excerpts: int) -> Scores:
    """tp_at: per matched excerpt, the highest score of a prediction matching it; fp_at: scores of
    predictions matching nothing; scores: all prediction scores (the thresholds)."""
    if excerpts == 0:  # recall undefined: CUAD's AUPR is nan -> 0, and no recall is ever reached
        return Scores(0.0, 0.0, 0.0, 0.0, 0, len(scores))
    thresholds = np.unique(np.asarray(scores, dtype=float))[::-1]
    tp_sorted, fp_sorted = np.sort(np.asarray(tp_at, dtype=float)), np.sort(np.asarray(fp_at, dtype=float))
    tp = len(tp_sorted) - np.searchsorted(tp_sorted, thresholds, side="left")
    fp = len(fp_sorted) - np.searchsorted(fp_sorted, thresholds, side="left")
    # Every threshold admits at least one prediction, which is an FP or makes an excerpt a TP.
    precision = np.concatenate(([1.0], tp / np.maximum(tp + fp, 1)))
    recall = np.concatenate(([0.0], tp / excerpts))
    processed = np.maximum.accumulate(precision[::-1])[::-1]

    def at_recall(level: float) -> float:
        reached = np.nonzero(recall >= level)[0]
        return float(processed[reached[0]]) if len(reached) else 0.0

    return Scores(float(_trapezoid(processed, recall)), at_recall(0.8), at_recall(0.9), float(recall[-1]),
                  excerpts, len(scores))


def evaluate(predictions: Iterable[Prediction], excerpts: Iterable[Excerpt], categories: Iterable[str],
             contracts: Iterable[str] | None = None) -> Report:
    """CUAD's metrics over the questions contracts x categories; anything outside them is ignored."""
    categories = list(dict.fromkeys(categories))
    predictions, excerpts = list(predictions), list(excerpts)
    wanted_contracts = (set(contracts) if contracts is not None
                        else {p.contract for p in predictions} | {e.contract for e in excerpts})
    wanted_categories = set(categories)

    def asked(contract: str, category: str) -> bool:
        return contract in wanted_contracts and category in wanted_categories

    labelled: dict[tuple[str, str], list[str]] = defaultdict(list)
    for excerpt in excerpts:
        if asked(excerpt.contract, excerpt.category):
            text = fold_layout(excerpt.text)
            if not text:  # CUAD asserts len(ans) > 0
                raise ValueError(f"empty labelled excerpt: {excerpt!r}")
            labelled[excerpt.contract, excerpt.category].append(text)
    predicted: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for prediction in predictions:
        text = fold_layout(prediction.text)
        if text and asked(prediction.contract, prediction.category):
            best = predicted[prediction.contract, prediction.category]
            best[text] = max(float(prediction.score), best.get(text, float("-inf")))

    tp_at: dict[str, list[float]] = defaultdict(list)
    fp_at: dict[str, list[float]] = defaultdict(list)
    scores: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for question in labelled.keys() | predicted.keys():
        category = question[1]
        answers, preds = labelled.get(question, []), predicted.get(question, {})
        counts[category] += len(answers)
        scores[category].extend(preds.values())
        if not answers:
            fp_at[category].extend(preds.values())
            continue
        answer_words = [_words(answer) for answer in answers]
        best_match = [float("-inf")] * len(answers)
        for text, score in preds.items():
            words, matched = _words(text), False
            for i, (answer, wanted) in enumerate(zip(answers, answer_words)):
                if _matched(category, answer, wanted, text, words):
                    matched = True
                    best_match[i] = max(best_match[i], score)
            if not matched:
                fp_at[category].append(score)
        tp_at[category].extend(s for s in best_match if s != float("-inf"))

    per_category = {c: _scores(tp_at[c], fp_at[c], scores[c], counts[c]) for c in categories}
    overall = _scores([s for c in categories for s in tp_at[c]], [s for c in categories for s in fp_at[c]],
                      [s for c in categories for s in scores[c]], sum(counts[c] for c in categories))
    return Report(overall, per_category)


def load_cuad_labels(path: str | Path) -> list[Excerpt]:
    """The labelled excerpts of one CUAD `NAME.labels.json` file; the contract is NAME."""
    path = Path(path)
    contract = path.name.removesuffix(".labels.json")
    labels = json.loads(path.read_text(encoding="utf-8"))["labels"]
    return [Excerpt(contract, category, text)
            for category, label in labels.items() for text in label.get("context") or [] if text.strip()]

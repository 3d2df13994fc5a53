"""Train the clause finder on CUAD's training contracts (`corpus/cuad_train/`, never the 40 checking ones).

Two stages, both logistic regressions, so the saved model is a few arrays (no pickle):
1. per category, a passage scorer over words, heading words and shape (clause_features.py);
2. per category, a re-scorer that looks at each passage's stage-1 score against the rest of its document
   (gap to the document's best, rank, size): most false positives are a contract's second-best passage,
   and only the document-level view can tell. It is trained on out-of-fold stage-1 scores, so it learns
   how stage 1 behaves on contracts it has not seen. It is fitted twice: the second time without the
   passages that only repeat a better passage's match (CUAD credits each excerpt once).
Then, as the finder scores (clause_model.stage2_scores), passages overlapping a better one are marked
down, and one isotonic curve over all categories maps that score to the share of passages matching an
excerpt: the calibrated probability, comparable across categories because CUAD's thresholds are shared.

    python -m analysis.first_pass.clause_training [--corpus DIR] [--out PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from analysis.first_pass import clause_model
from analysis.first_pass.candidates import Candidate, candidates
from analysis.first_pass.clause_features import FeatureSpace
from analysis.first_pass.clause_labels import Matches, candidate_matches, labels_from_matches
from analysis.first_pass.cuad_metrics import load_cuad_labels

logger = logging.getLogger(__name__)

FOLDS = 5
STAGE1_C = 4.0
# Stage 2's regularisation: most categories have a few dozen positive contracts, and on the held-out fifth a
# stronger pull to zero (0.2) ranked across categories a little better than 1.0 (0.05 to 5 were tried).
STAGE2_C = 0.2
MIN_POSITIVES = 3
NEGATIVES = 30000
HARD_NEGATIVES = 15000


@dataclass
class Contract:
    name: str
    text: str
    found: list[Candidate]
    matches: dict[str, Matches]  # category -> which excerpts each matching candidate matches
    labels: dict[str, np.ndarray] = field(init=False)  # category -> bool per candidate (categories with excerpts only)

    def __post_init__(self) -> None:
        self.labels = labels_from_matches(self.matches, len(self.found))


def read_contracts(corpus: Path, limit: int | None = None) -> list[Contract]:
    paths = sorted(corpus.glob("*.labels.json"))[:limit]
    contracts = []
    for path in paths:
        name = path.name[: -len(".labels.json")]
        text_path = path.with_name(name + ".txt")
        if not text_path.exists():
            continue
        text = text_path.read_text(errors="replace")
        found = candidates(text)
        contracts.append(Contract(name, text, found, candidate_matches(text, found, load_cuad_labels(path))))
    return contracts


def fold_of(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % FOLDS


def _column(contracts: list[Contract], category: str) -> np.ndarray:
    return np.concatenate([c.labels.get(category, np.zeros(len(c.found), dtype=bool)) for c in contracts])


def _fit_stage1(features: sparse.csr_matrix, y: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
    """Fit on `rows` (default: all): their positives and a fixed random share of their negatives, then again
    with the HARD_NEGATIVES negatives the first fit scored highest added. The scorer only has to rank
    passages (stage 2 calibrates), a category's passages are over 99% negative, and the negatives worth
    learning from are the near misses a random share mostly leaves out (chosen on the held-out fifth,
    bench/clause_finder.py --held-out)."""
    rows = np.arange(len(y)) if rows is None else rows
    positive = y[rows]
    if positive.sum() < MIN_POSITIVES:
        return None
    rng = np.random.default_rng(0)
    negatives = rows[~positive]
    keep = np.concatenate([rows[positive], rng.choice(negatives, min(len(negatives), NEGATIVES), replace=False)])
    keep.sort()
    model = LogisticRegression(C=STAGE1_C, solver="liblinear", max_iter=200)
    model.fit(features[keep], y[keep])
    near_misses = negatives[np.argsort(-(features[negatives] @ model.coef_[0]), kind="stable")[:HARD_NEGATIVES]]
    keep = np.union1d(keep, near_misses)
    model = LogisticRegression(C=STAGE1_C, solver="liblinear", max_iter=200)
    model.fit(features[keep], y[keep])
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def train(contracts: list[Contract], categories: list[str]) -> clause_model.ClauseModel:
    started = time.perf_counter()
    space = FeatureSpace.fit([c.text[x.start:x.end] for c in contracts for x in c.found],
                             [x.heading for c in contracts for x in c.found])
    matrices = [space.transform(c.text, c.found) for c in contracts]
    logger.info("features: %d columns, %d passages, %.0f s", space.width, sum(m.shape[0] for m in matrices),
                time.perf_counter() - started)
    folds = np.asarray([fold_of(c.name) for c in contracts])
    # The rows of each fold's training contracts, picked out of the one stacked matrix (never re-stacked).
    row_folds = np.repeat(folds, [len(c.found) for c in contracts])
    fold_rows = [np.flatnonzero(row_folds != fold) for fold in range(FOLDS)]

    named = {c.name: clause_model.names_a_party(c.text, c.found) for c in contracts}

    weights = np.zeros((len(categories), space.width), dtype=np.float32)
    biases = np.full(len(categories), -30.0, dtype=np.float32)  # categories never learned score nothing
    stage2 = np.zeros((len(categories), len(clause_model.STAGE2_COLUMNS)), dtype=np.float32)
    stage2_bias = np.full(len(categories), -30.0, dtype=np.float32)
    all_x = sparse.vstack(matrices, format="csr")
    pooled_scores, pooled_matches = [], []
    for index, category in enumerate(categories):
        y = _column(contracts, category)
        # Stage 1 learns from the passages the category may be predicted on (Parties: the head only).
        allowed = [clause_model.eligible(category, c.found) for c in contracts]
        allowed_rows = None if allowed[0] is None else np.flatnonzero(np.concatenate(allowed))
        fitted = _fit_stage1(all_x, y, allowed_rows)
        if fitted is None:
            continue
        weights[index], biases[index] = fitted
        # Out-of-fold stage-1 scores: each contract scored by a model that never saw it.
        logits = []
        for fold in range(FOLDS):
            learn_from = fold_rows[fold] if allowed_rows is None else np.intersect1d(fold_rows[fold], allowed_rows)
            partial = _fit_stage1(all_x, y, learn_from)
            for contract, matrix, f in zip(contracts, matrices, folds):
                if f == fold:
                    z = matrix @ partial[0] + partial[1] if partial else np.full(matrix.shape[0], -30.0)
                    logits.append((contract, z))
        tables = [clause_model.stage2_table(contract.text, contract.found, z,
                                            clause_model.eligible(category, contract.found), named[contract.name])
                  for contract, z in logits]
        x2 = np.vstack([table for _, table in tables])
        y2 = np.concatenate([contract.labels.get(category, np.zeros(len(contract.found), bool))[kept]
                             for (contract, _), (kept, _) in zip(logits, tables)])
        if y2.sum() < MIN_POSITIVES:
            continue
        stage2[index], stage2_bias[index] = _fit_stage2(x2, y2)
        # Refit without the passages that only repeat a better passage's match: CUAD credits an excerpt once,
        # so stage 2 should not learn to score them up (for Parties, most passages naming a party repeat the
        # preamble). Which passages repeat is read from the first fit's order.
        repeats = np.concatenate([
            _repeats(contract.matches.get(category, {}), kept,
                     clause_model.stage2_scores(contract.found, kept, table, stage2[index], stage2_bias[index]))
            for (contract, _), (kept, table) in zip(logits, tables)])
        if y2[~repeats].sum() >= MIN_POSITIVES:
            stage2[index], stage2_bias[index] = _fit_stage2(x2[~repeats], y2[~repeats])
        # The calibration's points: this category's suppressed scores on the same out-of-fold tables.
        pooled_scores.extend(clause_model.stage2_scores(contract.found, kept, table, stage2[index], stage2_bias[index])
                             for (contract, _), (kept, table) in zip(logits, tables))
        pooled_matches.append(y2)
        logger.info("%-36s positives %5d  stage-2 rows %6d  %.0f s", category, int(y.sum()), len(y2),
                    time.perf_counter() - started)
    calibration_x, calibration_y = isotonic_points(np.concatenate(pooled_scores), np.concatenate(pooled_matches))
    return clause_model.ClauseModel(categories=categories, space=space, weights=weights, biases=biases,
                                    stage2=stage2, stage2_bias=stage2_bias, calibration_x=calibration_x,
                                    calibration_y=calibration_y)


def _fit_stage2(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    second = LogisticRegression(C=STAGE2_C, max_iter=1000)
    second.fit(x, y)
    return second.coef_[0], float(second.intercept_[0])


def _repeats(matches: Matches, kept: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per kept passage: does it match only excerpts that a better-scored passage of the same category and
    contract already matches?"""
    out = np.zeros(len(kept), dtype=bool)
    credited: set[int] = set()
    for position in np.argsort(-scores, kind="stable"):
        matched = matches.get(int(kept[position]))
        if matched:
            out[position] = matched <= credited
            credited |= matched
    return out


def isotonic_points(scores: np.ndarray, matches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An isotonic curve from suppressed score to the share of passages matching an excerpt, as its points.
    Isotonic regression is flat between steps, which would tie passages the score had ordered; a ramp of at
    most 1e-4 over the curve keeps it strictly increasing, so the order survives calibration."""
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    isotonic.fit(scores.astype(np.float64), matches.astype(np.float64))
    x = np.asarray(isotonic.X_thresholds_, dtype=np.float64)
    y = np.asarray(isotonic.y_thresholds_, dtype=np.float64)
    x, first = np.unique(x, return_index=True)
    y = np.minimum(1.0, y[first] * (1 - 1e-4) + 1e-4 * np.linspace(0.0, 1.0, len(x)))
    return x, y


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.first_pass.clause_training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=clause_model.default_corpus() / "cuad_train")
    parser.add_argument("--out", type=Path, default=clause_model.MODEL_PATH)
    parser.add_argument("--limit", type=int, help="train on the first N contracts only (quick checks)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    contracts = read_contracts(args.corpus, args.limit)
    if not contracts:
        print(f"no CUAD contracts (NAME.txt + NAME.labels.json) in {args.corpus}", file=sys.stderr)
        return 2
    model = train(contracts, clause_model.categories())
    model.save(args.out)
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB from {len(contracts)} contracts")
    return 0


if __name__ == "__main__":
    sys.exit(main())

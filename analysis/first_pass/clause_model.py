"""The clause finder: scores candidate passages for CUAD's 41 categories with a model trained by
clause_training.py, and returns calibrated probabilities on exact spans.

Scoring, per category and document: stage 1 scores every candidate passage, stage 2 re-scores the best
TOP_K against the rest of the document, passages overlapping a better one are marked down (CUAD counts every
wrong-sized passage around a found clause as a false positive, and one passage per place is what a reader
wants), and a last monotone map turns the result into the probability that the passage matches a labelled
excerpt.

The model is a handful of arrays in one .npz (vocabularies, idf weights, two stages of logistic-regression
weights, the calibration curve), loaded with allow_pickle=False: nothing in the file can run code.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from analysis.anchoring import PageSpan, pages_for_span
from analysis.first_pass.candidates import KINDS, Candidate, candidates
from analysis.first_pass.clause_features import FeatureSpace
from analysis.first_pass.cuad_metrics import PARTIES
from analysis.first_pass.structure import PartiesBlock, parties_block

MODEL_PATH = Path(__file__).resolve().parent / "models" / "clauses.npz"
FORMAT = 2
TOP_K = 60  # passages per category and document that stage 2 looks at; the rest are never predicted
OVERLAP_FACTOR = 0.5  # a passage's score is multiplied by this for each better passage it overlaps (up to 3)
# CUAD's Parties excerpts are the names where the contract introduces them: in its 358 training contracts 1,659
# of 1,778 first appear in the first 5,000 characters (tests/analysis/test_first_pass_clauses.py counts them).
# Later passages merely mention a party: scored as Parties they are mostly false positives, so the finder looks
# for Parties in the head only.
PARTIES_HEAD_CHARS = 5000
# Each passage's score, gap to the document's best and rank also per kind of passage: how far a sentence may
# trail the best and still be the excerpt differs from how far a section may. On the held-out fifth these
# interactions did as well as a gradient-boosted stage 2 that could learn them itself, at no cost in code.
STAGE2_COLUMNS = ("z", "gap", "log_rank", "top1", "z_max", "log_words", *(f"kind={kind}" for kind in KINDS),
                  "names_a_party", *(f"{column}*kind={kind}" for column in ("z", "gap", "log_rank") for kind in KINDS))


def default_corpus() -> Path:
    configured = os.environ.get("QUIRE_CORPUS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "shared" / "corpus"


def categories(corpus: Path | None = None) -> list[str]:
    """CUAD's 41 categories spelled as its label files spell them ("Cap On Liability", "Ip Ownership
    Assignment"), in the order of its description file, whose capitals differ ("Cap on Liability")."""
    corpus = corpus or default_corpus()
    path = corpus / "labels" / "cuad_category_descriptions.csv"
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    described = [row[0].split("Category:", 1)[-1].strip() for row in rows[1:] if row and row[0].strip()]
    labels_file = next(iter(sorted((corpus / "cuad_train").glob("*.labels.json"))), None)
    if labels_file is None:
        return described
    spelled = {name.casefold(): name for name in json.loads(labels_file.read_text())["labels"]}
    missing = [name for name in described if name.casefold() not in spelled]
    if missing or len(spelled) != len(described):
        raise ValueError(f"CUAD's description file and {labels_file.name} disagree on the categories: {missing}")
    return [spelled[name.casefold()] for name in described]


def eligible(category: str, found: list[Candidate]) -> np.ndarray | None:
    """Which candidates may be predicted for `category` (None: all of them)."""
    if category != PARTIES:
        return None
    return np.fromiter((c.start < PARTIES_HEAD_CHARS for c in found), dtype=bool, count=len(found))


def names_a_party(text: str, found: list[Candidate], block: PartiesBlock | None = None) -> np.ndarray:
    """Per candidate: does it contain, as written, a party's name or short name from the preamble (`block`, read
    from `text` when not given)? CUAD counts a Parties passage as found when it contains a labelled name, so this
    is close to the answer whenever the preamble was read right."""
    block = parties_block(text) if block is None else block
    names = set() if block is None else {n for p in block.parties for n in (p.name, p.short_name) if n and len(n) > 1}
    return np.fromiter((any(n in text[c.start:c.end] for n in names) for c in found), dtype=bool, count=len(found))


def stage2_table(text: str, found: list[Candidate], z: np.ndarray, allowed: np.ndarray | None = None,
                 named: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The TOP_K best passages by stage-1 score (among the `allowed` ones), and their stage-2 columns;
    `named` is names_a_party(text, found)."""
    order = np.argsort(-z, kind="stable")
    if allowed is not None:
        order = order[allowed[order]]
    order = order[:TOP_K]
    if len(order) == 0:
        return order, np.zeros((0, len(STAGE2_COLUMNS)), dtype=np.float32)
    top = float(z[order[0]])
    rows = np.zeros((len(order), len(STAGE2_COLUMNS)), dtype=np.float32)
    for rank, i in enumerate(order):
        candidate = found[i]
        words = len(text[candidate.start:candidate.end].split())
        kind = KINDS.index(candidate.kind)
        rows[rank, :6] = (z[i], z[i] - top, math.log1p(rank), 1.0 if rank == 0 else 0.0, top, math.log1p(words))
        rows[rank, 6 + kind] = 1.0
        rows[rank, 6 + len(KINDS)] = 1.0 if named is not None and named[i] else 0.0
        for column in range(3):  # z, gap, log_rank, each in its kind's column
            rows[rank, 7 + len(KINDS) * (column + 1) + kind] = rows[rank, column]
    return order, rows


def suppress_overlaps(found: list[Candidate], order: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Soft non-maximum suppression within one category and document: best first, each passage loses
    OVERLAP_FACTOR of its score per better passage it overlaps (at most three times). On the held-out fifth
    (bench/clause_finder.py --held-out) factors 0.3 and 0.5 did about equally; 0.1 lost the second right-sized
    passage of a clause more often than it saved a wrong-sized one, and 0.7 or counting only large overlaps
    left too many wrong-sized ones."""
    if len(order) == 0:
        return scores
    starts = np.asarray([found[i].start for i in order])
    ends = np.asarray([found[i].end for i in order])
    by_score = np.argsort(-scores, kind="stable")
    out = scores.copy()
    for position, i in enumerate(by_score):
        better = by_score[:position]
        overlapping = int(np.count_nonzero((starts[better] < ends[i]) & (ends[better] > starts[i])))
        out[i] = scores[i] * OVERLAP_FACTOR ** min(overlapping, 3)
    return out


def stage2_scores(found: list[Candidate], kept: np.ndarray, table: np.ndarray, weights: np.ndarray,
                  bias: float) -> np.ndarray:
    """Stage 2 and suppression for one category (its stage-2 `weights` and `bias`) over its stage2_table: the kept
    passages' scores before calibration. Training calls it too, to fit the calibration on exactly these scores."""
    raw = 1.0 / (1.0 + np.exp(-(table @ weights + bias)))
    return suppress_overlaps(found, kept, raw)


@dataclass(frozen=True)
class ClauseHit:
    category: str
    start: int
    end: int
    pages: tuple[int, ...]
    score: float  # calibrated probability that the passage is the category's excerpt


class ClauseFinder(Protocol):
    """What the first pass, its coverage check and the CLI call: this module's ClauseModel (the feature model alone)
    or clause_reranker.RerankedClauseModel (the same, its best passages re-read by a fine-tuned encoder)."""

    categories: list[str]

    def find(self, text: str, pages: tuple[PageSpan, ...] | list[PageSpan] = (), *, minimum: float = 0.0,
             found: list[Candidate] | None = None, parties: PartiesBlock | None = None) -> list[ClauseHit]: ...


@dataclass
class ClauseModel:
    categories: list[str]
    space: FeatureSpace
    weights: np.ndarray  # (categories, features) stage 1
    biases: np.ndarray
    stage2: np.ndarray  # (categories, STAGE2_COLUMNS)
    stage2_bias: np.ndarray
    calibration_x: np.ndarray  # increasing suppressed scores ...
    calibration_y: np.ndarray  # ... and the share of such passages that match an excerpt (isotonic)

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(scores, self.calibration_x, self.calibration_y)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = self.space.to_arrays()
        np.savez_compressed(
            path,
            format=np.asarray(FORMAT),
            categories=_pack(self.categories),
            word_terms=_pack(arrays["word_terms"]),
            word_idf=arrays["word_idf"],
            heading_terms=_pack(arrays["heading_terms"]),
            heading_idf=arrays["heading_idf"],
            weights=self.weights.astype(np.float16),
            biases=self.biases,
            stage2=self.stage2,
            stage2_bias=self.stage2_bias,
            calibration_x=self.calibration_x,
            calibration_y=self.calibration_y,
        )

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ClauseModel:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != FORMAT:
                raise ValueError(f"{path} is clause-model format {int(data['format'])}; this code reads {FORMAT}. "
                                 "Rebuild it with `make clause-model`.")
            space = FeatureSpace.from_arrays({"word_terms": _unpack(data["word_terms"]), "word_idf": data["word_idf"],
                                              "heading_terms": _unpack(data["heading_terms"]),
                                              "heading_idf": data["heading_idf"]})
            return cls(categories=_unpack(data["categories"]), space=space,
                       weights=data["weights"].astype(np.float32), biases=data["biases"], stage2=data["stage2"],
                       stage2_bias=data["stage2_bias"], calibration_x=data["calibration_x"],
                       calibration_y=data["calibration_y"])

    def find(self, text: str, pages: tuple[PageSpan, ...] | list[PageSpan] = (), *, minimum: float = 0.0,
             found: list[Candidate] | None = None, parties: PartiesBlock | None = None) -> list[ClauseHit]:
        """Every scored passage at or above `minimum`, best first within each category; `found` is
        candidates(text) and `parties` parties_block(text) when the caller already has them."""
        found = candidates(text) if found is None else found
        if not found:
            return []
        features = self.space.transform(text, found)
        logits = np.asarray(features @ self.weights.T) + self.biases  # (passages, categories)
        named = names_a_party(text, found, parties)
        hits = []
        for index, category in enumerate(self.categories):
            if self.stage2_bias[index] <= -30.0:
                continue
            kept, table = stage2_table(text, found, logits[:, index], eligible(category, found), named)
            raw = stage2_scores(found, kept, table, self.stage2[index], self.stage2_bias[index])
            for i, score in zip(kept, self.calibrated(raw)):
                if score >= minimum:
                    candidate = found[i]
                    hits.append(ClauseHit(category, candidate.start, candidate.end,
                                          pages_for_span(candidate.start, candidate.end, pages) if pages else (),
                                          float(score)))
        return hits


def _pack(words: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)


def _unpack(array: np.ndarray) -> list[str]:
    return array.tobytes().decode("utf-8").split("\n")


@lru_cache(maxsize=1)
def default_model() -> ClauseModel:
    return ClauseModel.load(MODEL_PATH)

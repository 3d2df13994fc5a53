"""The clause finder: scores candidate passages for CUAD's 41 categories with a model trained by
clause_training.py, and returns calibrated probabilities on exact spans.

The model is a handful of arrays in one .npz (vocabularies, idf weights, two stages of logistic-regression
weights), loaded with allow_pickle=False: nothing in the file can run code.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis.anchoring import PageSpan, pages_for_span
from analysis.first_pass.candidates import KINDS, Candidate, candidates
from analysis.first_pass.clause_features import FeatureSpace

MODEL_PATH = Path(__file__).resolve().parent / "models" / "clauses.npz"
FORMAT = 1
TOP_K = 60  # passages per category and document that stage 2 looks at; the rest are never predicted
STAGE2_COLUMNS = ("z", "gap", "log_rank", "top1", "z_max", "log_words", *(f"kind={kind}" for kind in KINDS))


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


def stage2_table(text: str, found: list[Candidate], z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The TOP_K best passages by stage-1 score, and their stage-2 columns (STAGE2_COLUMNS)."""
    order = np.argsort(-z, kind="stable")[:TOP_K]
    if len(order) == 0:
        return order, np.zeros((0, len(STAGE2_COLUMNS)), dtype=np.float32)
    top = float(z[order[0]])
    rows = np.zeros((len(order), len(STAGE2_COLUMNS)), dtype=np.float32)
    for rank, i in enumerate(order):
        candidate = found[i]
        words = len(text[candidate.start:candidate.end].split())
        rows[rank, :6] = (z[i], z[i] - top, math.log1p(rank), 1.0 if rank == 0 else 0.0, top, math.log1p(words))
        rows[rank, 6 + KINDS.index(candidate.kind)] = 1.0
    return order, rows


@dataclass(frozen=True)
class ClauseHit:
    category: str
    start: int
    end: int
    pages: tuple[int, ...]
    score: float  # calibrated probability that the passage is the category's excerpt


@dataclass
class ClauseModel:
    categories: list[str]
    space: FeatureSpace
    weights: np.ndarray  # (categories, features) stage 1
    biases: np.ndarray
    stage2: np.ndarray  # (categories, STAGE2_COLUMNS)
    stage2_bias: np.ndarray

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
                       stage2_bias=data["stage2_bias"])

    def find(self, text: str, pages: tuple[PageSpan, ...] | list[PageSpan] = (), *, minimum: float = 0.0,
             found: list[Candidate] | None = None) -> list[ClauseHit]:
        """Every scored passage at or above `minimum`, best first within each category; `found` is
        candidates(text) when the caller already has it."""
        found = candidates(text) if found is None else found
        if not found:
            return []
        features = self.space.transform(text, found)
        logits = np.asarray(features @ self.weights.T) + self.biases  # (passages, categories)
        hits = []
        for index, category in enumerate(self.categories):
            if self.stage2_bias[index] <= -30.0:
                continue
            kept, table = stage2_table(text, found, logits[:, index])
            scores = 1.0 / (1.0 + np.exp(-(table @ self.stage2[index] + self.stage2_bias[index])))
            for i, score in zip(kept, scores):
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

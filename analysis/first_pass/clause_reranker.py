"""The clause finder as the first pass runs it: the feature model (clause_model.ClauseModel) proposes passages,
and a fine-tuned MiniLM (passage_encoder.py) re-reads the best few of each category.

Why two stages: the transformer reads a passage's words in order, which TF-IDF cannot, but on two CPU cores it
encodes about fifty passages a second, while a long contract has thousands of candidates. The feature model
is fast and recalls most excerpts within its best RERANKED passages per category, so only those (a few hundred
per document, however long it is) are encoded, once each for all categories.

Each re-read passage's score is a blend of the feature model's logit and the encoder's, fitted on the held-out
fifth of CUAD's training contracts (reranker_training.py, which the encoder never learned from), then mapped by an
isotonic curve to the probability that the passage matches a labelled excerpt. Passages the encoder did not read keep the feature
model's score scaled by TAIL, so they stay below every re-read one: still predictions (CUAD's recall counts
them), never shown ahead of a passage that was read twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from analysis.anchoring import PageSpan
from analysis.first_pass import passage_encoder
from analysis.first_pass.candidates import Candidate, candidates
from analysis.first_pass.clause_model import MODEL_PATH, ClauseHit, ClauseModel, suppress_overlaps
from analysis.first_pass.structure import PartiesBlock

ENCODER_PATH = MODEL_PATH.with_name("clause_encoder.safetensors")
RERANKED = 20  # per category and document, the feature model's best passages that the encoder re-reads
TAIL = 1e-4  # a passage not re-read keeps its feature score times this: below every re-read passage
_EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def calibrated(raw: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A re-read passage's probability from its blended score by the isotonic curve (x, y), lifted above TAIL."""
    return TAIL + (1 - TAIL) * np.interp(raw, x, y)


@dataclass(frozen=True)
class Blend:
    """How a re-read passage's score is made: a logistic regression over the feature model's logit and the
    encoder's, with one intercept per category (how often its best passages are right differs by category),
    then, when `suppress`, passages overlapping a better one of the category marked down
    (clause_model.suppress_overlaps), then `calibration` (isotonic, as its points)."""

    weights: np.ndarray  # (2,): feature logit, encoder logit
    category_bias: np.ndarray  # (categories,)
    suppress: bool
    calibration_x: np.ndarray
    calibration_y: np.ndarray

    def raw(self, category: int, base_scores: np.ndarray, encoder_logits: np.ndarray) -> np.ndarray:
        z = self.weights[0] * logit(base_scores) + self.weights[1] * encoder_logits + self.category_bias[category]
        return 1.0 / (1.0 + np.exp(-z))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        return calibrated(raw, self.calibration_x, self.calibration_y)

    def as_tensors(self) -> dict[str, torch.Tensor]:
        def tensor(values) -> torch.Tensor:
            return torch.from_numpy(np.asarray(values, dtype=np.float64).copy())

        return {"blend_weights": tensor(self.weights), "blend_category_bias": tensor(self.category_bias),
                "blend_suppress": tensor([float(self.suppress)]), "calibration_x": tensor(self.calibration_x),
                "calibration_y": tensor(self.calibration_y)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> Blend:
        return cls(tensors["blend_weights"].numpy(), tensors["blend_category_bias"].numpy(),
                   bool(tensors["blend_suppress"][0] > 0.5), tensors["calibration_x"].numpy(),
                   tensors["calibration_y"].numpy())


@dataclass(frozen=True)
class ReadPassages:
    """The feature model's hits for one document, the passages picked for the encoder, and its logits for them."""

    hits: list[ClauseHit]
    spans: list[tuple[int, int]]  # unique (start, end) the encoder read
    logits: np.ndarray  # (spans, categories)
    picked: dict[str, list[int]]  # category -> indices into hits that were re-read


def pick(hits: list[ClauseHit], per_category: int = RERANKED) -> dict[str, list[int]]:
    """Per category, the indices of its `per_category` best hits (the feature model's order)."""
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, hit in enumerate(hits):
        by_category[hit.category].append(index)
    return {category: sorted(indices, key=lambda i: -hits[i].score)[:per_category]
            for category, indices in by_category.items()}


@dataclass
class PassageReader:
    """The feature model and the encoder, before any blend: what training reads the held-out contracts with (the
    blend is fitted on what it reads) and what RerankedClauseModel reads each document with."""

    finder: ClauseModel
    encoder: passage_encoder.PassageEncoder
    tokenize: object

    def read(self, text: str, pages=(), *, found: list[Candidate] | None = None,
             parties: PartiesBlock | None = None) -> ReadPassages:
        found = candidates(text) if found is None else found
        hits = self.finder.find(text, pages, minimum=0.0, found=found, parties=parties)
        picked = pick(hits)
        headings = {(c.start, c.end): c.heading for c in found}
        spans = sorted({(hits[i].start, hits[i].end) for indices in picked.values() for i in indices})
        pairs = [passage_encoder.passage_input(headings.get(span, ""), text[span[0]:span[1]]) for span in spans]
        with _threads(passage_encoder.first_pass_threads()):
            logits = passage_encoder.logits(self.encoder, self.tokenize, pairs).numpy()
        return ReadPassages(hits, spans, logits, picked)


@dataclass
class RerankedClauseModel:
    """Same `find` as ClauseModel: what the first pass, the coverage check and the CLI call."""

    reader: PassageReader
    blend: Blend

    @property
    def finder(self) -> ClauseModel:
        return self.reader.finder

    @property
    def categories(self) -> list[str]:
        return self.finder.categories

    def find(self, text: str, pages: tuple[PageSpan, ...] | list[PageSpan] = (), *, minimum: float = 0.0,
             found: list[Candidate] | None = None, parties: PartiesBlock | None = None) -> list[ClauseHit]:
        read = self.reader.read(text, pages, found=found, parties=parties)
        return rescored(read, self.categories, self.blend, minimum)


def rescored(read: ReadPassages, categories: list[str], blend: Blend, minimum: float = 0.0) -> list[ClauseHit]:
    """The hits with their final scores (final_scores), highest first within each category."""
    scores = final_scores(read.hits, raw_scores(read, categories, blend), blend.calibrated)
    hits = [ClauseHit(h.category, h.start, h.end, h.pages, float(s)) for h, s in zip(read.hits, scores) if s >= minimum]
    hits.sort(key=lambda h: (h.category, -h.score))
    return hits


def final_scores(hits: list[ClauseHit], raw: np.ndarray, calibrate) -> np.ndarray:
    """Per hit: a re-read one (its raw blend score not NaN) calibrated by `calibrate`, the rest the feature model's
    score times TAIL. The shipped blend and training's out-of-fold figure both score this way."""
    scores = np.asarray([hit.score * TAIL for hit in hits], dtype=np.float64)
    reread = ~np.isnan(raw)
    scores[reread] = calibrate(raw[reread])
    return scores


def raw_scores(read: ReadPassages, categories: list[str], blend: Blend) -> np.ndarray:
    """Per hit, the blend's score before calibration (NaN for hits not re-read); training calibrates on these."""
    column = {category: i for i, category in enumerate(categories)}
    row = {span: i for i, span in enumerate(read.spans)}
    out = np.full(len(read.hits), np.nan)
    for category, indices in read.picked.items():
        if not indices:
            continue
        hits = [read.hits[i] for i in indices]
        encoded = np.asarray([read.logits[row[(h.start, h.end)], column[category]] for h in hits])
        raw = blend.raw(column[category], np.asarray([h.score for h in hits]), encoded)
        if blend.suppress:
            raw = suppress_overlaps(hits, np.arange(len(hits)), raw)
        out[indices] = raw
    return out


class _threads:
    """Torch's thread count for the duration of a block, restored after (the worker's other work keeps its own)."""

    def __init__(self, count: int):
        self.count = count

    def __enter__(self):
        self.previous = torch.get_num_threads()
        torch.set_num_threads(self.count)

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)


def with_finder(finder: ClauseModel, encoder_path: Path = ENCODER_PATH) -> RerankedClauseModel:
    """The encoder at `encoder_path` re-reading `finder`'s passages (the bench pairs it with other feature models)."""
    encoder, extra = passage_encoder.load(encoder_path)
    if encoder.categories != finder.categories:
        raise ValueError(f"{encoder_path} and the feature model disagree on the categories; rebuild with "
                         "`make clause-model`")
    return RerankedClauseModel(PassageReader(finder, encoder, passage_encoder.tokenizer()), Blend.from_tensors(extra))


def load(finder_path: Path = MODEL_PATH, encoder_path: Path = ENCODER_PATH) -> RerankedClauseModel:
    return with_finder(ClauseModel.load(finder_path), encoder_path)


@lru_cache(maxsize=1)
def default_model() -> RerankedClauseModel:
    return load()

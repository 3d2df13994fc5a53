"""What the clause finder sees of a candidate passage: its words (TF-IDF, unigrams and bigrams), the words
of the heading it sits under, and a few facts about its shape and place. Training and scoring both come
through `FeatureSpace`, so the two can never disagree about a column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from analysis.first_pass.candidates import KINDS, Candidate

_DATE = re.compile(r"\b(?:19|20)\d\d\b")
_MONEY = re.compile(r"[$\u20ac\u00a3]\s?\d|\b(?:USD|EUR|dollars)\b", re.IGNORECASE)
_PERCENT = re.compile(r"\d\s?%|\bper\s?cent\b", re.IGNORECASE)
_DURATION = re.compile(r"\b(?:days?|months?|years?)\b", re.IGNORECASE)
_QUOTE = re.compile(r"[\"\u201c]")
_WORDS = re.compile(r"\S+")

SHAPE_COLUMNS = (*(f"kind={kind}" for kind in KINDS), "log_words", "position", "in_head", "in_tail", "has_year",
                 "has_money", "has_percent", "has_duration", "quotes", "upper_share", "has_heading")


def shape_features(text: str, candidate: Candidate, document_length: int) -> list[float]:
    passage = text[candidate.start:candidate.end]
    words = _WORDS.findall(passage)
    letters = [c for c in passage if c.isalpha()]
    position = candidate.start / max(1, document_length)
    return [
        *(1.0 if candidate.kind == kind else 0.0 for kind in KINDS),
        math.log1p(len(words)),
        position,
        1.0 if candidate.start < 3000 else 0.0,
        1.0 if position > 0.9 else 0.0,
        1.0 if _DATE.search(passage) else 0.0,
        1.0 if _MONEY.search(passage) else 0.0,
        1.0 if _PERCENT.search(passage) else 0.0,
        1.0 if _DURATION.search(passage) else 0.0,
        min(4.0, len(_QUOTE.findall(passage)) / 2),
        sum(c.isupper() for c in letters) / max(1, len(letters)),
        1.0 if candidate.heading else 0.0,
    ]


@dataclass
class FeatureSpace:
    """Two fitted TF-IDF vocabularies (passage, heading) plus the shape columns."""

    words: TfidfVectorizer
    headings: TfidfVectorizer

    @classmethod
    def fit(cls, passages: list[str], headings: list[str], *, max_words: int = 60000) -> FeatureSpace:
        words = TfidfVectorizer(ngram_range=(1, 2), min_df=3, max_df=0.5, max_features=max_words, sublinear_tf=True,
                                dtype=np.float32)
        words.fit(passages)
        heading_space = TfidfVectorizer(ngram_range=(1, 2), min_df=3, max_features=5000, sublinear_tf=True,
                                        dtype=np.float32)
        heading_space.fit([h or "-" for h in headings])
        return cls(words=words, headings=heading_space)

    @property
    def width(self) -> int:
        return len(self.words.vocabulary_) + len(self.headings.vocabulary_) + len(SHAPE_COLUMNS)

    def transform(self, text: str, found: list[Candidate]) -> sparse.csr_matrix:
        passages = [text[c.start:c.end] for c in found]
        shapes = np.asarray([shape_features(text, c, len(text)) for c in found], dtype=np.float32)
        return sparse.hstack([
            self.words.transform(passages),
            self.headings.transform([c.heading or "-" for c in found]),
            sparse.csr_matrix(shapes.reshape(len(found), len(SHAPE_COLUMNS))),
        ], format="csr", dtype=np.float32)

    # --- saved without pickle: each vocabulary as its terms in column order, and its idf weights ---

    def to_arrays(self) -> dict:
        def ordered(vectorizer: TfidfVectorizer) -> list[str]:
            return sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)

        return {"word_terms": ordered(self.words), "word_idf": self.words.idf_.astype(np.float32),
                "heading_terms": ordered(self.headings), "heading_idf": self.headings.idf_.astype(np.float32)}

    @classmethod
    def from_arrays(cls, arrays: dict) -> FeatureSpace:
        def rebuilt(terms: list[str], idf: np.ndarray) -> TfidfVectorizer:
            vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32,
                                         vocabulary={term: index for index, term in enumerate(terms)})
            vectorizer.idf_ = idf.astype(np.float64)
            return vectorizer

        return cls(words=rebuilt(arrays["word_terms"], arrays["word_idf"]),
                   headings=rebuilt(arrays["heading_terms"], arrays["heading_idf"]))

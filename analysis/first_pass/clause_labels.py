"""Which candidate passages count as a CUAD category's excerpt: the same test CUAD's evaluation applies (word
Jaccard >= 0.5 with a labelled excerpt, or for Parties the excerpt contained in the passage), so the finder
learns exactly what it is scored on."""

from __future__ import annotations

import numpy as np

from analysis.anchoring import AnchorIndex
from analysis.first_pass.candidates import Candidate
from analysis.first_pass.cuad_metrics import IOU_THRESH, PARTIES, Excerpt, fold_space, jaccard


def candidate_labels(text: str, found: list[Candidate], excerpts: list[Excerpt]) -> dict[str, np.ndarray]:
    """For each category with excerpts, a boolean per candidate: does it match one of them?"""
    by_category: dict[str, list[str]] = {}
    for excerpt in excerpts:
        by_category.setdefault(excerpt.category, []).append(excerpt.text)
    index = AnchorIndex(text)
    starts = np.asarray([c.start for c in found])
    ends = np.asarray([c.end for c in found])
    passages: list[str | None] = [None] * len(found)

    def passage(i: int) -> str:
        if passages[i] is None:
            passages[i] = fold_space(text[found[i].start:found[i].end])
        return passages[i]

    result: dict[str, np.ndarray] = {}
    for category, texts in by_category.items():
        hits = np.zeros(len(found), dtype=bool)
        for excerpt in texts:
            if category == PARTIES:
                needle = fold_space(excerpt)
                # Containment can hold anywhere the name is written, so every candidate is a suspect; a cheap
                # lower-case prefilter on the raw text keeps this fast.
                lowered = needle.lower()
                for i, c in enumerate(found):
                    if not hits[i] and lowered in text[c.start:c.end].lower() and (needle in passage(i) or jaccard(excerpt, passage(i)) >= IOU_THRESH):
                        hits[i] = True
                continue
            place = index.find(excerpt)
            if place is None:
                # Not found in the text (a few CUAD excerpts differ from their .txt): compare with everything.
                suspects = range(len(found))
            else:
                suspects = np.flatnonzero((starts < place.end) & (ends > place.start))
            for i in suspects:
                if not hits[i] and jaccard(excerpt, passage(i)) >= IOU_THRESH:
                    hits[i] = True
        result[category] = hits
    return result

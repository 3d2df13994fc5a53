"""Which candidate passages count as a CUAD category's excerpt: the same test CUAD's evaluation applies (word
Jaccard >= 0.5 with a labelled excerpt, or for Parties the excerpt contained in the passage), so the finder
learns exactly what it is scored on. Training also needs to know WHICH excerpts a passage matches: CUAD credits
each excerpt once, so a passage matching only excerpts a better one already matched earns nothing."""

from __future__ import annotations

import numpy as np

from analysis.anchoring import AnchorIndex
from analysis.first_pass.candidates import Candidate
from analysis.first_pass.cuad_metrics import PARTIES, Excerpt, fold_layout, matches

Matches = dict[int, frozenset[int]]  # candidate index -> indices of the category's excerpts it matches


def candidate_matches(text: str, found: list[Candidate], excerpts: list[Excerpt]) -> dict[str, Matches]:
    """For each category with excerpts, the candidates matching at least one of them, and which (numbered in
    the order the category's excerpts come in `excerpts`)."""
    by_category: dict[str, list[str]] = {}
    for excerpt in excerpts:
        by_category.setdefault(excerpt.category, []).append(excerpt.text)
    index = AnchorIndex(text)
    starts = np.asarray([c.start for c in found])
    ends = np.asarray([c.end for c in found])
    passages: list[str | None] = [None] * len(found)

    def passage(i: int) -> str:
        if passages[i] is None:
            passages[i] = fold_layout(text[found[i].start:found[i].end])
        return passages[i]

    result: dict[str, Matches] = {}
    for category, texts in by_category.items():
        hits: dict[int, set[int]] = {}
        if category == PARTIES:
            # Containment can hold anywhere the name is written, so every candidate is a suspect; a cheap
            # lower-case prefilter on the folded passages keeps this fast (on the raw text it would miss a name
            # broken over a line).
            lowered = [passage(i).lower() for i in range(len(found))]
        for number, excerpt in enumerate(texts):
            if category == PARTIES:
                needle = fold_layout(excerpt).lower()
                for i, haystack in enumerate(lowered):
                    if needle in haystack and matches(category, excerpt, passage(i)):
                        hits.setdefault(i, set()).add(number)
                continue
            place = index.find(excerpt)
            if place is None:
                # Not found in the text (a few CUAD excerpts differ from their .txt): compare with everything.
                suspects = range(len(found))
            else:
                suspects = np.flatnonzero((starts < place.end) & (ends > place.start))
            for i in suspects:
                if matches(category, excerpt, passage(i)):
                    hits.setdefault(int(i), set()).add(number)
        result[category] = {i: frozenset(numbers) for i, numbers in sorted(hits.items())}
    return result


def labels_from_matches(matches: dict[str, Matches], count: int) -> dict[str, np.ndarray]:
    """A boolean per candidate (of `count`) for each category: does it match any excerpt?"""
    result = {}
    for category, matched in matches.items():
        hits = np.zeros(count, dtype=bool)
        hits[list(matched)] = True
        result[category] = hits
    return result


def candidate_labels(text: str, found: list[Candidate], excerpts: list[Excerpt]) -> dict[str, np.ndarray]:
    """For each category with excerpts, a boolean per candidate: does it match one of them?"""
    return labels_from_matches(candidate_matches(text, found, excerpts), len(found))

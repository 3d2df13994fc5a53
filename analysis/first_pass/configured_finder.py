"""Which clause finder the first pass uses, from QUIRE_CLAUSE_FINDER.

`encoder` (the default): the feature model's twenty best passages per category re-read by the fine-tuned MiniLM
(clause_reranker). `features`: the feature model alone (clause_model), for a machine where the first pass must
take a second or two: on CERES (154 pages) 1.35 s against 23 s, at 35.1% precision at 80% recall on the held-out
fifth against 46.0% (bench/RESULTS.md, "Clause encoder"). Read per call, so a worker takes the setting it was
started with and a test can set it for one document; each finder is loaded once per process.

clause_reranker (torch, transformers) is imported when the encoder is first asked for, not with this module: the
web app imports the pipeline too and never runs a first pass, and torch at import cost each web process about
1.3 s and 180 MiB more to start (bench/web_startup.py, bench/RESULTS.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from analysis.first_pass import clause_model
from analysis.first_pass.clause_model import ClauseFinder

SETTING = "QUIRE_CLAUSE_FINDER"
DEFAULT = "encoder"


def _encoder() -> ClauseFinder:
    from analysis.first_pass import clause_reranker  # torch: see the module's docstring

    return clause_reranker.default_model()


FINDERS: dict[str, Callable[[], ClauseFinder]] = {"encoder": _encoder, "features": clause_model.default_model}


def configured_finder() -> ClauseFinder:
    name = os.environ.get(SETTING, DEFAULT).strip().lower() or DEFAULT
    if name not in FINDERS:
        raise ValueError(f"{SETTING}={name!r} is not a clause finder: use one of {', '.join(sorted(FINDERS))}")
    return FINDERS[name]()

"""How good a model's contract review is, measured on CUAD contracts against the experts' labels.

For operators choosing a model: the contract playbook runs over each contract (the PDF beside its
`NAME.labels.json`, as in the shared corpus), and the findings are scored per CUAD category and overall by
CUAD's own test of a passage against an excerpt (word Jaccard at least 0.5, Parties also by containment), with
white space and quote typography folded on both sides. The first pass's clause finder is scored on the same
contracts by the same rule, so a reader sees what the model adds. Nothing here knows which engine runs: any
Engine does. It never tunes anything: what it reads is reported, once.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis.first_pass import pipeline as first_pass
from analysis.first_pass.cuad_metrics import fold_quotes, load_cuad_labels, matches
from analysis.ingest import ingest
from analysis.ingest.document import IngestedDocument
from analysis.playbooks import Playbook
from analysis.review import FIRST_PASS_MIN_SCORE, Review, ReviewFailedError, review
from engine.api import Engine, EngineError


@dataclass
class Tally:
    """Counts for one category, or all of them together."""

    predictions: int = 0  # verified quotes (model) or passages at the threshold (first pass)
    correct_predictions: int = 0  # of those, matching an expert excerpt of the category
    excerpts: int = 0
    found_excerpts: int = 0  # excerpts matched by at least one prediction
    questions: int = 0  # (contract, category) pairs asked
    presence_right: int = 0  # said present exactly where the experts labelled something
    quotes: int = 0  # every quote the model wrote, verified or not
    verified: int = 0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def scores(self) -> dict:
        return {
            "precision": _ratio(self.correct_predictions, self.predictions),
            "recall": _ratio(self.found_excerpts, self.excerpts),
            "presence_accuracy": _ratio(self.presence_right, self.questions),
            "verified_share": _ratio(self.verified, self.quotes),
            "predictions": self.predictions, "excerpts": self.excerpts, "questions": self.questions,
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class ContractRun:
    name: str
    seconds: float
    prompt_tokens: int = 0
    repaired: bool = False
    failed: str = ""  # the reason, when the review could not be used


@dataclass
class Evaluation:
    engine: str
    model: str
    playbook: str
    contracts_read: int = 0
    runs: list[ContractRun] = field(default_factory=list)  # one per contract the model reviewed
    model_categories: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    first_pass_categories: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))

    def as_json(self) -> dict:
        reviewed = len(self.runs)
        overall = _total(self.model_categories).scores()
        overall.update({
            "repaired_share": _ratio(sum(r.repaired for r in self.runs), reviewed),
            "failed_share": _ratio(sum(bool(r.failed) for r in self.runs), reviewed),
            "prompt_tokens": round(sum(r.prompt_tokens for r in self.runs) / reviewed) if reviewed else 0,
            "seconds_per_contract": round(sum(r.seconds for r in self.runs) / reviewed, 1) if reviewed else 0.0,
        })
        return {
            "engine": self.engine, "model": self.model, "playbook": self.playbook, "contracts": self.contracts_read,
            "overall": overall,
            "categories": {c: t.scores() for c, t in sorted(self.model_categories.items())},
            "first_pass": {"overall": _total(self.first_pass_categories).scores(),
                           "categories": {c: t.scores() for c, t in sorted(self.first_pass_categories.items())}},
            "runs": [asdict(r) for r in self.runs],
        }


def _total(categories: dict[str, Tally]) -> Tally:
    total = Tally()
    for tally in categories.values():
        total.add(tally)
    return total


def labelled_contracts(folder: str | Path, limit: int | None = None) -> list[tuple[Path, Path]]:
    """(PDF, labels) pairs in name order: each `NAME.labels.json` with its `NAME.PDF` (or .pdf) beside it."""
    pairs = []
    for labels in sorted(Path(folder).glob("*.labels.json")):
        stem = labels.name.removesuffix(".labels.json")
        pdf = next((p for p in (labels.with_name(stem + ".PDF"), labels.with_name(stem + ".pdf")) if p.is_file()), None)
        if pdf is not None:
            pairs.append((pdf, labels))
    return pairs[:limit] if limit else pairs


def evaluate(contracts: Iterable[tuple[Path, Path]], engine: Engine | None, playbook: Playbook, *, engine_label: str,
             max_tokens: int, progress: Callable[[str], None] | None = None, parallel: int = 1) -> Evaluation:
    """Review each contract with `engine` and score it, and the first pass, against the labels. With no engine,
    only the first pass is scored (it needs no model and takes seconds a contract).

    `parallel` contracts are reviewed at once: an engine that batches (the local engine, vLLM, SGLang) decodes
    them together for little more than the cost of one, since a decode step on a small model is bound by reading
    the weights. The scores do not depend on it; each contract's seconds then include its share of waiting."""
    say = progress or (lambda line: None)
    result = Evaluation(engine=engine_label, model=getattr(engine, "model_id", "") if engine else "", playbook=playbook.name)

    def one(prepared: _Prepared) -> _Scored:
        scored = _review_and_score(prepared, engine, playbook, max_tokens)
        run = scored.run
        say(f"{prepared.name}: " + ("first pass only" if run is None else
                                    f"{'failed: ' + run.failed if run.failed else 'reviewed'} in {run.seconds:.0f} s"))
        return scored

    # Reading the PDFs stays in this thread, one at a time: pdfium, under the ingestion, is not thread-safe.
    prepared = (_prepare(pdf, labels) for pdf, labels in contracts)
    if parallel > 1 and engine is not None:
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="quire-evaluate") as pool:
            futures = [pool.submit(one, item) for item in prepared]  # reviews start while later PDFs are read
            scored_all = [future.result() for future in futures]
    else:
        scored_all = [one(item) for item in prepared]
    for scored in scored_all:  # in the contracts' order, whatever order they finished in
        result.contracts_read += 1
        for category, tally in scored.first_pass.items():
            result.first_pass_categories[category].add(tally)
        for category, tally in scored.model.items():
            result.model_categories[category].add(tally)
        if scored.run is not None:
            result.runs.append(scored.run)
    return result


@dataclass
class _Scored:
    """One contract's tallies, per category, and its review's run (None when no model was asked)."""

    first_pass: dict[str, Tally]
    model: dict[str, Tally]
    run: ContractRun | None


@dataclass
class _Prepared:
    """A contract read and first-passed, waiting for its review."""

    name: str
    document: IngestedDocument
    found: first_pass.FirstPass
    excerpts: dict[str, list[str]]
    first_pass: dict[str, Tally]


def _prepare(pdf: Path, labels_path: Path) -> _Prepared:
    excerpts = _excerpts(labels_path)
    document = ingest(pdf)
    found = first_pass.first_pass(document)
    passages = defaultdict(list)
    for hit in found.clauses:
        if hit.score >= FIRST_PASS_MIN_SCORE:
            passages[hit.category].append(document.text[hit.start:hit.end])
    tallies = {category: _score(category, passages.get(category, []), expected, present=bool(passages.get(category)))
               for category, expected in excerpts.items()}
    return _Prepared(pdf.stem, document, found, excerpts, tallies)


def _review_and_score(prepared: _Prepared, engine: Engine | None, playbook: Playbook, max_tokens: int) -> _Scored:
    if engine is None:
        return _Scored(prepared.first_pass, {}, None)
    started = time.perf_counter()
    run = ContractRun(name=prepared.name, seconds=0.0)
    try:
        reviewed: Review | None = review(prepared.document, playbook, engine, max_tokens=max_tokens,
                                         first_pass=first_pass.first_pass_record(prepared.found, prepared.document))
    except (ReviewFailedError, EngineError) as error:
        reviewed, run.failed = None, error.message
    run.seconds = time.perf_counter() - started
    if reviewed is not None:
        run.prompt_tokens, run.repaired = reviewed.prompt_tokens, reviewed.repaired
    by_category = _findings_by_category(reviewed, prepared.excerpts) if reviewed is not None else {}
    model_tallies = {}
    for category, expected in prepared.excerpts.items():
        finding = by_category.get(category)
        quotes = finding.quotes if finding is not None else ()
        verified = [q.text for q in quotes if q.verified]
        tally = _score(category, verified, expected, present=bool(finding and finding.present))
        tally.quotes, tally.verified = len(quotes), len(verified)
        model_tallies[category] = tally
    return _Scored(prepared.first_pass, model_tallies, run)


def _excerpts(labels_path: Path) -> dict[str, list[str]]:
    """Every CUAD category of the file (an empty list where the experts found nothing), excerpts folded."""
    categories = json.loads(labels_path.read_text(encoding="utf-8"))["labels"]
    out: dict[str, list[str]] = {category: [] for category in categories}
    for excerpt in load_cuad_labels(labels_path):
        out[excerpt.category].append(fold_quotes(excerpt.text))
    return out


def _findings_by_category(reviewed: Review, excerpts: dict[str, list[str]]):
    """The playbook's item titles are CUAD's category names, capitalised here and there differently."""
    by_title = {f.title.casefold(): f for f in reviewed.findings}
    return {category: by_title[category.casefold()] for category in excerpts if category.casefold() in by_title}


def _score(category: str, predictions: list[str], excerpts: list[str], *, present: bool) -> Tally:
    predictions = list(dict.fromkeys(fold_quotes(p) for p in predictions if p.strip()))
    tally = Tally(predictions=len(predictions), excerpts=len(excerpts), questions=1,
                  presence_right=int(present == bool(excerpts)))
    matched = [[matches(category, excerpt, prediction) for excerpt in excerpts] for prediction in predictions]
    tally.correct_predictions = sum(any(row) for row in matched)
    tally.found_excerpts = sum(any(row[i] for row in matched) for i in range(len(excerpts)))
    return tally

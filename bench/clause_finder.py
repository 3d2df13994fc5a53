"""The first pass's clause finder scored with CUAD's metric (white space and quote typography folded, see
cuad_metrics) on the 40 checking contracts, run from their PDFs through ingestion (and, for comparison with the
CUAD paper's figures, from CUAD's own text), plus the first pass's time and memory on the longest contract and on
a 3,000-page bundle. Measures, never asserts. Every row is measured twice in the same run: the finder the first
pass runs (the feature model re-read by the fine-tuned encoder, clause_reranker) and the feature model alone
(clause_model, the finder before the encoder), its peer.

    .venv/bin/python bench/clause_finder.py [--corpus DIR] [--per-category] [--skip-speed] [--skip-txt] [--skip-scores]
    .venv/bin/python bench/clause_finder.py --held-out [--per-category]

--held-out scores the held-out fifth of the training contracts (clause_training.fold_of == 0) from their text,
with the feature model trained on the other four fifths (reranker_training.FINDER_CACHE, trained if missing) and
the committed encoder (fine-tuned on the same four fifths). The blend of the two is fitted on this fifth, so its
row here is out of fold (reranker_training.cross_validated: each contract scored by a blend fitted on the
others): the figure every choice was made on, so that the 40 checking contracts stay unseen by all of them.

Peer: CUAD's fine-tuned DeBERTa-xlarge as published (Hendrycks et al. 2021: 44.0% precision at 80% recall,
47.8% AUPR on CUAD's text), and the issue's quick TF-IDF baseline (15%, 0.64); neither can run here, so
the comparison is with their published figures, not measured in the same run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.first_pass import clause_model, clause_reranker  # noqa: E402
from analysis.first_pass.cuad_metrics import (  # noqa: E402
    Excerpt,
    Prediction,
    evaluate,
    load_cuad_labels,
    matches,
)


def checking_contracts(corpus: Path) -> list[tuple[str, Path, Path]]:
    rows = []
    for labels in sorted((corpus / "contracts_cuad").glob("*.labels.json")):
        name = labels.name[: -len(".labels.json")]
        pdfs = [p for p in labels.parent.glob(name + ".*") if p.suffix.lower() == ".pdf"]
        text = labels.with_name(name + ".txt")
        if pdfs and text.exists():
            rows.append((name, pdfs[0], text))
    return rows


def predictions_for(model, name: str, text: str) -> list[Prediction]:
    return [Prediction(name, hit.category, text[hit.start:hit.end], hit.score, hit.start, hit.end)
            for hit in model.find(text)]


def reliability(predictions: list[Prediction], excerpts: list[Excerpt]) -> list[tuple[float, int, float, float]]:
    """Per tenth of the score range: how many predictions, their mean score, and the share that match an excerpt
    by CUAD's test (Jaccard >= 0.5, or for Parties the excerpt contained). A calibrated finder has the last two
    close. Each prediction counts on its own here (evaluate() de-duplicates texts within a question)."""
    labelled: dict[tuple[str, str], list[str]] = {}
    for excerpt in excerpts:
        labelled.setdefault((excerpt.contract, excerpt.category), []).append(excerpt.text)
    bands: dict[int, list[tuple[float, bool]]] = {}
    for p in predictions:
        matched = any(matches(p.category, answer, p.text) for answer in labelled.get((p.contract, p.category), []))
        bands.setdefault(min(9, int(p.score * 10)), []).append((p.score, matched))
    return [(band / 10, len(rows), statistics.fmean(s for s, _ in rows), statistics.fmean(m for _, m in rows))
            for band, rows in sorted(bands.items())]


def report(title: str, predictions: list[Prediction], excerpts: list[Excerpt], categories: list[str],
           contracts: list[str]):
    result = evaluate(predictions, excerpts, categories, contracts=contracts)
    o = result.overall
    print(f"\n{title}: {o.excerpts} excerpts, {o.predictions} predictions")
    print(f"  precision at 80% recall {o.precision_at_80_recall:.1%}, at 90% {o.precision_at_90_recall:.1%}, "
          f"AUPR {o.aupr:.3f}, highest recall {o.max_recall:.1%}")
    print("  calibration (score band: predictions, mean score, share matching an excerpt): " + "; ".join(
        f"{low:.1f}-{low + 0.1:.1f}: {n}, {mean:.3f}, {share:.3f}" for low, n, mean, share in reliability(predictions, excerpts)))
    return result


def per_category_table(categories: list[str], new, old) -> None:
    print("| category | excerpts | AUPR | feature model alone | P@80R | feature model alone | max recall |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for category in categories:
        s, t = new.per_category[category], old.per_category[category]
        if s.excerpts:
            print(f"| {category} | {s.excerpts} | {s.aupr:.3f} | {t.aupr:.3f} | {s.precision_at_80_recall:.1%} | "
                  f"{t.precision_at_80_recall:.1%} | {s.max_recall:.1%} |")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speed(corpus: Path, models: dict[str, object]) -> None:
    """Time and peak memory of the whole first pass with each model; `models` maps a label to a loader, called
    just before its timing, the feature model alone first, so each peak RSS holds only what came before it."""
    from analysis.first_pass.pipeline import read_first_pass
    from analysis.ingest import ingest

    def first_pass(text: str, model) -> float:
        started = time.perf_counter()
        read_first_pass(text, model=model)  # what a report runs, with the model under test (loaded once)
        return time.perf_counter() - started

    ceres = next((corpus / "contracts_cuad").glob("CERES*.PDF"), None) or next((corpus / "contracts_cuad").glob("CERES*.pdf"))
    document = ingest(ceres, ocr=False)
    chars_per_page = len(document.text) / len(document.pages)
    # A bundle: training contracts' texts one after another until about 3,000 pages (at CERES's characters per
    # page), so it reads like many contracts filed together.
    texts = [path.read_text(errors="replace") for path in sorted((corpus / "cuad_train").glob("*.txt"))]
    bundle, index = [], 0
    while sum(map(len, bundle)) < chars_per_page * 3000:
        bundle.append(texts[index % len(texts)])
        index += 1
    text = "\n\n".join(bundle)
    pages = len(text) / chars_per_page
    for label, loader in reversed(list(models.items())):
        model = loader()
        runs = [first_pass(document.text, model) for _ in range(3)]
        per_page = statistics.median(runs) / len(document.pages)
        print(f"\n{label}: first pass (structure, key terms, clause finder) of {ceres.name}: {len(document.pages)} "
              f"pages, {len(document.text):,} characters: median {statistics.median(runs):.2f} s of {len(runs)} runs "
              f"({', '.join(f'{r:.2f}' for r in runs)}); peak RSS so far {peak_rss_mib():,.0f} MiB")
        seconds = first_pass(text, model)
        print(f"{label}: first pass of a {pages:,.0f}-page bundle ({len(bundle)} contracts, {len(text):,} characters): "
              f"{seconds:.1f} s, {seconds / pages * 1000:.1f} ms per page against {per_page * 1000:.1f} ms per page "
              f"for CERES alone (x{seconds / pages / per_page:.2f}); peak RSS so far {peak_rss_mib():,.0f} MiB")


def held_out(corpus: Path, encoder_path: Path, per_category: bool) -> None:
    from analysis.first_pass.clause_training import fold_of, read_contracts
    from analysis.first_pass.reranker_training import FINDER_CACHE, cross_validated, finder_for, read_held_out

    started = time.perf_counter()
    contracts = read_contracts(corpus / "cuad_train")
    learn = [c for c in contracts if fold_of(c.name) != 0]
    check = [c for c in contracts if fold_of(c.name) == 0]
    categories = clause_model.categories(corpus)
    finder = finder_for(learn, categories, FINDER_CACHE)
    reranked = clause_reranker.with_finder(finder, encoder_path)
    print(f"held out: feature model of {len(learn)} training contracts, scoring {len(check)} others: "
          f"{time.perf_counter() - started:.0f} s")
    excerpts = [e for c in check for e in load_cuad_labels(corpus / "cuad_train" / f"{c.name}.labels.json")]
    names = [c.name for c in check]
    started = time.perf_counter()
    items = read_held_out(reranked.reader, check, corpus / "cuad_train")
    predictions, _, _ = cross_validated(items, categories, reranked.blend.suppress)
    new = report(f"Held-out training contracts, from their text, feature model re-read by the encoder, the blend "
                 f"fitted out of fold ({time.perf_counter() - started:.0f} s)", predictions, excerpts, categories, names)
    started = time.perf_counter()
    alone = [Prediction(c.name, hit.category, c.text[hit.start:hit.end], hit.score, hit.start, hit.end)
             for c in check for hit in finder.find(c.text, found=c.found)]
    old = report(f"Held-out training contracts, from their text, feature model alone ({time.perf_counter() - started:.0f} s)",
                 alone, excerpts, categories, names)
    if per_category:
        per_category_table(categories, new, old)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=clause_model.default_corpus())
    parser.add_argument("--model", type=Path, default=clause_model.MODEL_PATH, help="the feature model")
    parser.add_argument("--encoder", type=Path, default=clause_reranker.ENCODER_PATH)
    parser.add_argument("--per-category", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-txt", action="store_true")
    parser.add_argument("--skip-scores", action="store_true", help="time and memory only (on a quiet machine)")
    parser.add_argument("--held-out", action="store_true", help="score the held-out fifth of cuad_train instead")
    args = parser.parse_args()
    if args.held_out:
        held_out(args.corpus, args.encoder, args.per_category)
        return 0
    from analysis.ingest import ingest

    loaders = {"feature model re-read by the encoder": lambda: clause_reranker.load(args.model, args.encoder),
               "feature model alone": lambda: clause_model.ClauseModel.load(args.model)}
    if args.skip_scores:
        speed(args.corpus, loaders)
        return 0
    models = {label: load() for label, load in loaders.items()}
    categories = models["feature model alone"].categories
    rows = checking_contracts(args.corpus)
    names = [name for name, _, _ in rows]
    excerpts = [e for _, pdf, _ in rows for e in load_cuad_labels(pdf.with_name(pdf.stem + ".labels.json"))]

    started = time.perf_counter()
    documents = {name: ingest(pdf).text for name, pdf, _ in rows}
    print(f"{len(rows)} checking contracts from their PDFs through ingestion: {time.perf_counter() - started:.0f} s")
    results = {}
    for label, model in models.items():
        started = time.perf_counter()
        from_pdf = [p for name in names for p in predictions_for(model, name, documents[name])]
        results[label] = report(f"From the PDFs (ingest(path), as `python -m analysis clauses` runs), {label} "
                                f"({time.perf_counter() - started:.0f} s)", from_pdf, excerpts, categories, names)
    if args.per_category:
        per_category_table(categories, *results.values())
    if not args.skip_txt:
        for label, model in models.items():
            from_txt = [p for name, _, txt in rows for p in predictions_for(model, name, txt.read_text(errors="replace"))]
            report(f"From CUAD's own text (the CUAD paper's setting), {label}", from_txt, excerpts, categories, names)
    if not args.skip_speed:
        speed(args.corpus, loaders)
    return 0


if __name__ == "__main__":
    sys.exit(main())

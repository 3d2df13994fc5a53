"""Dated obligations (analysis.obligations) against CUAD's expert labels. Measures, never asserts.

For each contract with a non-empty "Expiration Date" or "Renewal Term" label: is it found, that is, does some derived
obligation's passage match one of those labelled excerpts by CUAD's rule (white space and quote typography folded,
word Jaccard >= 0.5, analysis.first_pass.cuad_metrics.matches)? Also: how many dates were derived, by kind; and,
where CUAD's normalised "Expiration Date" answer is a day (m/d/yy), whether an expiry obligation has that day.

    .venv/bin/python bench/obligations_cuad.py --split dev        # cuad_train, four fifths: where rules were tuned
    .venv/bin/python bench/obligations_cuad.py --split heldout    # cuad_train, every fifth file by name: the check
    .venv/bin/python bench/obligations_cuad.py --split checking   # the 40 checking contracts, from their PDFs: once
    add --misses to list the labelled contracts not found, --write to append the table to bench/RESULTS.md

The rules were written and tuned on the dev split alone; the first pass's clause model is not used by them (it was
trained on all of cuad_train, so it would flatter the train figures).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis.first_pass.cuad_metrics import fold_quotes, matches  # noqa: E402
from analysis.first_pass.pipeline import read_first_pass  # noqa: E402
from analysis.obligations import derive_obligations  # noqa: E402
from analysis.obligations.model import KINDS  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
CATEGORIES = ("Expiration Date", "Renewal Term")


def contracts(split: str) -> list[tuple[str, Path, Path]]:
    """(name, document, labels): the text for the cuad_train splits, the PDF for the checking contracts."""
    if split == "checking":
        rows = []
        for labels in sorted((CORPUS / "contracts_cuad").glob("*.labels.json")):
            name = labels.name.removesuffix(".labels.json")
            pdfs = [p for p in labels.parent.glob(name + ".*") if p.suffix.lower() == ".pdf"]
            if pdfs:
                rows.append((name, pdfs[0], labels))
        return rows
    every = sorted((CORPUS / "cuad_train").glob("*.labels.json"))
    chosen = [p for i, p in enumerate(every) if (i % 5 == 4) == (split == "heldout")]
    return [(p.name.removesuffix(".labels.json"), p.with_name(p.name.removesuffix(".labels.json") + ".txt"), p)
            for p in chosen]


def cuad_day(answer: str) -> date | None:
    match = re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*", answer or "")
    if not match:
        return None
    month, day, year = (int(g) for g in match.groups())
    year += 0 if year > 100 else (1900 if year > 50 else 2000)
    try:
        return date(year, month, day)
    except ValueError:
        try:
            return date(year, day, month)  # a few answers are written day first
        except ValueError:
            return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=("dev", "heldout", "checking"), required=True)
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    labelled = found = with_day = day_agrees = 0
    kinds: Counter[str] = Counter()
    contracts_with_dates = 0
    misses = []
    began = time.perf_counter()
    rows = contracts(args.split)
    for name, path, labels_path in rows:
        if path.suffix.lower() == ".pdf":
            from analysis.ingest import ingest

            document = ingest(path)
            text, pages = document.text, document.pages
        else:
            text, pages = path.read_text(encoding="utf-8"), ()
        obligations = derive_obligations(text, read_first_pass(text, pages), pages)
        kinds.update(o.kind for o in obligations)
        contracts_with_dates += bool(obligations)
        labels = json.loads(labels_path.read_text(encoding="utf-8"))["labels"]
        excerpts = [(c, fold_quotes(x)) for c in CATEGORIES for x in labels.get(c, {}).get("context") or [] if x.strip()]
        if not excerpts:
            continue
        labelled += 1
        passages = [fold_quotes(p.text) for o in obligations for p in o.passages]
        hit = any(matches(c, x, p) for c, x in excerpts for p in passages)
        found += hit
        day = cuad_day(labels.get("Expiration Date", {}).get("answer", ""))
        if day is not None:
            with_day += 1
            day_agrees += any(o.kind == "expiry" and o.date == day.isoformat() for o in obligations)
        if not hit:
            misses.append((name, labels.get("Expiration Date", {}).get("answer"), excerpts[0][1][:300]))
    seconds = time.perf_counter() - began

    source = "PDF via analysis.ingest" if args.split == "checking" else "CUAD's .txt"
    header = ("| split | contracts | labelled (Expiration Date or Renewal Term) | found | share found | "
              "dates derived | by kind | CUAD expiry day given | same expiry day derived |\n"
              "|---|---|---|---|---|---|---|---|---|")
    by_kind = ", ".join(f"{k} {kinds[k]}" for k in KINDS if kinds[k])
    row = (f"| {args.split} ({source}) | {len(rows)} | {labelled} | {found} | {100 * found / max(labelled, 1):.1f}% | "
           f"{sum(kinds.values())} in {contracts_with_dates} contracts | {by_kind} | {with_day} | "
           f"{day_agrees} ({100 * day_agrees / max(with_day, 1):.1f}%) |")
    print(header)
    print(row)
    print(f"{seconds:.1f} s for {len(rows)} contracts", file=sys.stderr)
    if args.misses:
        for name, answer, excerpt in misses:
            print(f"MISS {name[:70]} [{answer}] {' '.join(excerpt.split())}")
    if args.write:
        from results_file import append_section

        append_section(f"Dated obligations against CUAD's labels, {args.split} split (bench/obligations_cuad.py)",
                       setup=f"Passages from {source}; first pass as committed; {seconds:.0f} s in all.",
                       header=header, rows=[row])
    return 0


if __name__ == "__main__":
    sys.exit(main())

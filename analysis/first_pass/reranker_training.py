"""Fine-tune the passage encoder (passage_encoder.py) on CUAD's training contracts and fit how its scores blend
with the feature model's, without ever reading the 40 checking contracts.

The split: cuad_train's contracts whose name hashes to fold 0 (clause_training.fold_of, 67 of 358) are the
held-out fifth. The encoder learns from the other four fifths only, with candidates proposed by a feature model
also trained on those four fifths. The blend (a logistic regression over the two logits with one intercept per
category, clause_reranker.Blend), its calibration and whether overlaps are suppressed are fitted on the held-out
fifth, whose figure is therefore reported out of fold (cross_validated). The shipped encoder is this one; the
shipped feature model is `make clause-model`'s usual one, trained on all 358 (its scores mean the same, one more
fifth of data behind them).

What the encoder learns from: in each training contract, per category, the feature model's best
TRAIN_PER_CATEGORY passages (its hardest negatives, or the answer) and up to POSITIVES_PER_CATEGORY passages that
match an excerpt among its TOP_K; each passage labelled for all 41 categories at once (multi-label binary
cross-entropy), one epoch.

    python -m analysis.first_pass.reranker_training [--corpus DIR] [--finder PATH] [--out PATH] [--epochs N]
                                                    [--reuse-encoder PATH]

Deterministic for a given machine: fixed seeds, a fixed thread count, deterministic torch kernels, and the blend
fitted on the encoder as saved (fp16), so `--reuse-encoder` on a saved encoder gives the same tensors and notes
again. Not the same bytes: the safetensors library writes the header's notes in no fixed order, so the file's
SHA-256 (written beside it) can differ between two runs that agree on every tensor.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from analysis.first_pass import clause_model, clause_reranker, passage_encoder
from analysis.first_pass.clause_training import Contract, fold_of, isotonic_points, read_contracts, train
from analysis.first_pass.cuad_metrics import Excerpt, Prediction, evaluate, load_cuad_labels, matches

logger = logging.getLogger(__name__)

TRAIN_PER_CATEGORY = 3
POSITIVES_PER_CATEGORY = 4
BATCH = 16
LEARNING_RATE = 5e-5
HEAD_LEARNING_RATE = 2e-3
WARMUP = 0.06
EPOCHS = 1
SEED = 20261206
THREADS = 2
BLEND_C = 1.0
BLEND_FOLDS = 5  # the held-out fifth is split again to give the blend an out-of-fold figure
FINDER_CACHE = Path(__file__).resolve().parents[2] / "var" / "clause_model" / "finder-fold0.npz"


@dataclass
class Example:
    heading: str
    passage: str
    labels: np.ndarray  # bool per category


def examples(contract: Contract, hits, categories: list[str]) -> list[Example]:
    index = {(c.start, c.end): i for i, c in enumerate(contract.found)}
    chosen: set[int] = set()
    by_category: dict[str, list] = {}
    for hit in hits:
        by_category.setdefault(hit.category, []).append(hit)
    for category, listed in by_category.items():
        listed.sort(key=lambda h: -h.score)
        chosen.update(index[(h.start, h.end)] for h in listed[:TRAIN_PER_CATEGORY])
        labels = contract.labels.get(category)
        if labels is not None:
            positives = [index[(h.start, h.end)] for h in listed if labels[index[(h.start, h.end)]]]
            chosen.update(positives[:POSITIVES_PER_CATEGORY])
    out = []
    for i in sorted(chosen):
        candidate = contract.found[i]
        row = np.asarray([bool(contract.labels[c][i]) if c in contract.labels else False for c in categories])
        heading, passage = passage_encoder.passage_input(candidate.heading, contract.text[candidate.start:candidate.end])
        out.append(Example(heading, passage, row))
    return out


def train_encoder(rows: list[Example], categories: list[str], epochs: int = EPOCHS) -> passage_encoder.PassageEncoder:
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)
    try:
        return _train(rows, categories, epochs)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _train(rows: list[Example], categories: list[str], epochs: int) -> passage_encoder.PassageEncoder:
    from transformers import get_linear_schedule_with_warmup

    model = passage_encoder.PassageEncoder(categories)
    tokenize = passage_encoder.tokenizer()
    # Batches of passages of similar length (little padding), in a seeded random order.
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].heading) + len(rows[i].passage))
    batches = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
    generator = np.random.default_rng(SEED)
    head = list(model.head.parameters())
    body = [p for name, p in model.named_parameters() if p.requires_grad and not name.startswith("head.")]
    optimizer = torch.optim.AdamW([{"params": body, "lr": LEARNING_RATE}, {"params": head, "lr": HEAD_LEARNING_RATE}],
                                  weight_decay=0.01)
    steps = epochs * len(batches)
    schedule = get_linear_schedule_with_warmup(optimizer, int(WARMUP * steps), steps)
    # Start the head at each category's base rate, so the first steps do not spend themselves learning it.
    rate = np.clip(np.mean([r.labels for r in rows], axis=0), 1e-4, 1 - 1e-4)
    with torch.no_grad():
        model.head.bias.copy_(torch.from_numpy(np.log(rate / (1 - rate))).float())
    model.train()
    started, step, running = time.perf_counter(), 0, 0.0
    for epoch in range(epochs):
        for batch in (batches[i] for i in generator.permutation(len(batches))):
            encoded = passage_encoder.encode(tokenize, [(rows[i].heading, rows[i].passage) for i in batch])
            target = torch.from_numpy(np.stack([rows[i].labels for i in batch]).astype(np.float32))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model(encoded.input_ids, encoded.attention_mask), target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 50 == 0 or step == steps:
                elapsed = time.perf_counter() - started
                logger.info("epoch %d step %d/%d loss %.4f  %.0f s, about %.0f s to go", epoch + 1, step, steps,
                            running, elapsed, elapsed / step * (steps - step))
    model.eval()
    return model


@dataclass
class HeldOut:
    """One held-out contract as the encoder read it, with its labelled excerpts per category."""

    name: str
    text: str
    read: clause_reranker.ReadPassages
    labelled: dict[str, list[str]]

    def matched(self, hit) -> bool:
        text = self.text[hit.start:hit.end]
        return any(matches(hit.category, excerpt, text) for excerpt in self.labelled.get(hit.category, []))


def read_held_out(reader: clause_reranker.PassageReader, contracts: list[Contract], corpus: Path) -> list[HeldOut]:
    out = []
    for contract in contracts:
        labelled: dict[str, list[str]] = {}
        for excerpt in load_cuad_labels(corpus / f"{contract.name}.labels.json"):
            labelled.setdefault(excerpt.category, []).append(excerpt.text)
        out.append(HeldOut(contract.name, contract.text, reader.read(contract.text, found=contract.found), labelled))
    return out


def _blend_rows(item: HeldOut, column: dict[str, int]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The re-read hits of one contract: their indices, blend inputs (feature logit, encoder logit, category one-hot)
    and whether each matches an excerpt."""
    row = {span: i for i, span in enumerate(item.read.spans)}
    indices = [i for picked in item.read.picked.values() for i in picked]
    x = np.zeros((len(indices), 2 + len(column)))
    y = np.zeros(len(indices), dtype=bool)
    for r, i in enumerate(indices):
        hit = item.read.hits[i]
        x[r, 0] = clause_reranker.logit(np.asarray([hit.score]))[0]
        x[r, 1] = item.read.logits[row[(hit.start, hit.end)], column[hit.category]]
        x[r, 2 + column[hit.category]] = 1.0
        y[r] = item.matched(hit)
    return indices, x, y


def fit_blend(items: list[HeldOut], categories: list[str], suppress: bool,
              calibration: tuple[np.ndarray, np.ndarray] = (np.asarray([0.0, 1.0]), np.asarray([0.0, 1.0]))
              ) -> clause_reranker.Blend:
    column = {c: i for i, c in enumerate(categories)}
    rows = [_blend_rows(item, column) for item in items]
    x = np.vstack([r[1] for r in rows])
    y = np.concatenate([r[2] for r in rows])
    regression = LogisticRegression(C=BLEND_C, max_iter=5000)
    regression.fit(x, y)
    coef = regression.coef_[0]
    return clause_reranker.Blend(coef[:2].copy(), coef[2:] + regression.intercept_[0], suppress, *calibration)


def cross_validated(items: list[HeldOut], categories: list[str], suppress: bool
                    ) -> tuple[list[Prediction], np.ndarray, np.ndarray]:
    """Out-of-fold scores on the held-out contracts: each contract's blend fitted on the other folds of them
    (BLEND_FOLDS), so the held-out figure is one no contract's own labels shaped. Returns the predictions (scores
    calibrated by one isotonic curve over all out-of-fold raw scores, which keeps their order) and those raw
    scores with whether each matched an excerpt: the shipped blend's calibration."""
    fold = {item.name: n % BLEND_FOLDS for n, item in enumerate(sorted(items, key=lambda i: i.name))}
    raw: dict[str, np.ndarray] = {}
    for f in range(BLEND_FOLDS):
        blend = fit_blend([i for i in items if fold[i.name] != f], categories, suppress)
        for item in items:
            if fold[item.name] == f:
                raw[item.name] = clause_reranker.raw_scores(item.read, categories, blend)
    pooled = np.concatenate([raw[i.name][~np.isnan(raw[i.name])] for i in items])
    matched = np.concatenate([np.asarray([i.matched(h) for h, r in zip(i.read.hits, raw[i.name]) if not np.isnan(r)],
                                         dtype=bool) for i in items])
    x, y = isotonic_points(pooled, matched)
    predictions = []
    for item in items:
        scores = clause_reranker.final_scores(item.read.hits, raw[item.name],
                                              lambda r: clause_reranker.calibrated(r, x, y))
        predictions.extend(Prediction(item.name, h.category, item.text[h.start:h.end], float(s))
                           for h, s in zip(item.read.hits, scores))
    return predictions, pooled, matched


def choose_blend(items: list[HeldOut], categories: list[str]) -> tuple[clause_reranker.Blend, dict]:
    """Suppression of overlaps or not, by the out-of-fold figure on the held-out fifth; the shipped blend is then
    fitted on all of it, calibrated on the out-of-fold scores."""
    excerpts = [Excerpt(i.name, c, t) for i in items for c, texts in i.labelled.items() for t in texts]
    names = [i.name for i in items]
    best = None
    for suppress in (False, True):
        predictions, pooled, matched = cross_validated(items, categories, suppress)
        o = evaluate(predictions, excerpts, categories, contracts=names).overall
        logger.info("blend, suppress %s, out of fold on the held-out fifth: precision at 80%% recall %.1f%%, "
                    "AUPR %.3f", suppress, 100 * o.precision_at_80_recall, o.aupr)
        key = (round(o.precision_at_80_recall, 4), round(o.aupr, 4))
        if best is None or key > best[0]:
            best = (key, suppress, pooled, matched, o)
    _, suppress, pooled, matched, overall = best
    blend = fit_blend(items, categories, suppress, isotonic_points(pooled, matched))
    return blend, {"held_out_p80": f"{overall.precision_at_80_recall:.4f}", "held_out_aupr": f"{overall.aupr:.4f}"}


def finder_for(learn: list[Contract], categories: list[str], cache: Path | None) -> clause_model.ClauseModel:
    """The feature model trained on the four fifths (cached: it takes minutes, and the bench needs the same one)."""
    if cache is not None and cache.exists():
        logger.info("feature model of the four fifths: %s", cache)
        return clause_model.ClauseModel.load(cache)
    finder = train(learn, categories)
    if cache is not None:
        finder.save(cache)
    return finder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.first_pass.reranker_training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=clause_model.default_corpus())
    parser.add_argument("--finder", type=Path, default=FINDER_CACHE,
                        help="the four fifths' feature model: read if present, else trained and written here")
    parser.add_argument("--out", type=Path, default=clause_reranker.ENCODER_PATH)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--limit", type=int, help="the first N contracts only (quick checks)")
    parser.add_argument("--reuse-encoder", type=Path, metavar="PATH",
                        help="skip the fine-tuning: take the encoder from PATH and fit only the blend again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    train_dir = args.corpus / "cuad_train"
    categories = clause_model.categories(args.corpus)
    contracts = read_contracts(train_dir, args.limit)
    learn = [c for c in contracts if fold_of(c.name) != 0]
    held_out = [c for c in contracts if fold_of(c.name) == 0]
    finder = finder_for(learn, categories, args.finder)
    if args.reuse_encoder:
        encoder, _ = passage_encoder.load(args.reuse_encoder)
    else:
        rows = [row for c in learn for row in examples(c, finder.find(c.text, found=c.found), categories)]
        positives = int(sum(r.labels.any() for r in rows))
        logger.info("%d contracts learn, %d held out; %d training passages (%d match an excerpt): %.0f s", len(learn),
                    len(held_out), len(rows), positives, time.perf_counter() - started)
        encoder = passage_encoder.as_saved(train_encoder(rows, categories, args.epochs))
    reader = clause_reranker.PassageReader(finder, encoder, passage_encoder.tokenizer())
    items = read_held_out(reader, held_out, train_dir)
    blend, figures = choose_blend(items, categories)
    logger.info("chosen: weights %s, suppress %s", np.round(blend.weights, 3), blend.suppress)
    passage_encoder.save(encoder, args.out, blend.as_tensors(),
                         {"trained_on": f"cuad_train fold != 0 ({len(learn)} contracts), blend chosen on fold 0",
                          "command": "make clause-model", "epochs": str(args.epochs), "seed": str(SEED), **figures})
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    args.out.with_suffix(".sha256").write_text(f"{digest}  {args.out.name}\n")  # `sha256sum -c` reads it
    logger.info("%s: %.1f MiB, sha256 %s, %.0f s in all", args.out, args.out.stat().st_size / 2**20, digest,
                time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

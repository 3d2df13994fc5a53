"""Where a long prefill's time goes, on each side of bench/engine_local.py: the seconds spent inside the
attention kernel and the rest (projections, MLP, norms, cache bookkeeping), for one prompt.

The engine's attention is timed around torch's CPU flash kernel as engine/local/attention.py calls it;
`generate`'s around `torch.nn.functional.scaled_dot_product_attention`, which transformers' sdpa path calls.
Each side runs in its own fresh process after the same short warm-up; the sides alternate by round. It
measures and never asserts.

    .venv/bin/python bench/prefill_breakdown.py --tokens 65536 [--rounds 1] [--mbt 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import engine_local  # noqa: E402  (the same model, prompt text and question as the main bench)


class Stopwatch:
    """Adds up the wall seconds spent inside one function."""

    def __init__(self, function):
        self.function = function
        self.seconds = 0.0

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def child_generate(tokens: int) -> dict:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = engine_local.model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    ids = torch.tensor([tokenizer.encode(engine_local.corpus_text(tokenizer, tokens) + engine_local.QUESTIONS[0])])
    watch = Stopwatch(F.scaled_dot_product_attention)
    F.scaled_dot_product_attention = watch
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    warm = ids[:, :engine_local.WARM_UP_TOKENS]
    with torch.no_grad():
        model.generate(warm, attention_mask=torch.ones_like(warm), max_new_tokens=2, do_sample=False, pad_token_id=0)
        watch.seconds = 0.0
        started = time.perf_counter()
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=1, do_sample=False, pad_token_id=0)
    return {"side": "generate", "prompt_tokens": ids.shape[1], "prefill_s": time.perf_counter() - started,
            "attention_s": watch.seconds}


def child_engine(tokens: int, mbt: int) -> dict:
    from transformers import AutoTokenizer

    from engine.api import GenerationRequest
    from engine.local import LocalEngine, attention

    path = engine_local.model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    document = engine_local.corpus_text(tokenizer, tokens)
    watch = Stopwatch(attention._flash)
    attention._flash = watch
    engine = LocalEngine.from_pretrained(path, max_batch_tokens=mbt)
    try:
        engine.generate(GenerationRequest(prompt=engine_local.QUESTIONS[1] + document[:300], max_tokens=2))
        watch.seconds = 0.0
        started = time.perf_counter()
        result = engine.generate(GenerationRequest(prompt=document + engine_local.QUESTIONS[0], max_tokens=1))
        elapsed = time.perf_counter() - started
    finally:
        engine.close()
    return {"side": "engine", "prompt_tokens": result.prompt_tokens, "prefill_s": elapsed,
            "attention_s": watch.seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=65536)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--mbt", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", choices=("engine", "generate"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        row = child_generate(args.tokens) if args.child == "generate" else child_engine(args.tokens, args.mbt)
        print(json.dumps(row))
        return 0

    engine_local.model_dir()  # built once, before any timing
    print(f"{args.tokens} tokens, engine max_batch_tokens={args.mbt}, {args.threads} threads")
    print("| round | side | prompt tokens | prefill s | in attention s | rest s |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for round_ in range(args.rounds):
        for side in ("engine", "generate") if round_ % 2 == 0 else ("generate", "engine"):
            done = subprocess.run([sys.executable, __file__, "--child", side, "--tokens", str(args.tokens),
                                   "--mbt", str(args.mbt), "--threads", str(args.threads)],
                                  capture_output=True, text=True, cwd=ROOT,
                                  env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"})
            if done.returncode != 0:
                print(f"| {round_ + 1} | {side} | failed: {done.stderr.strip().splitlines()[-1:]} | | | |")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {round_ + 1} | {side} | {row['prompt_tokens']} | {row['prefill_s']:.1f} | "
                  f"{row['attention_s']:.1f} | {row['prefill_s'] - row['attention_s']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

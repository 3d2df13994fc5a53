"""The glibc malloc tuning of engine/local/allocator.py, on and off: prefill seconds of the first three long
requests an engine serves after a short warm-up. Each side runs in its own fresh process (the setting is
process-wide); sides alternate. Measures, never asserts.

    .venv/bin/python bench/engine_malloc.py [--tokens 4096] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
REQUESTS = 3


def child(tokens: int) -> list[float]:
    import torch
    from transformers import AutoTokenizer

    from engine.api import GenerationRequest
    from engine.local import LocalEngine
    from engine_local import QUESTIONS, corpus_text, model_dir

    torch.set_num_threads(os.cpu_count() or 1)
    path = model_dir()
    document = corpus_text(AutoTokenizer.from_pretrained(path), tokens)
    engine = LocalEngine.from_pretrained(path, max_batch_tokens=2048)
    try:
        engine.generate(GenerationRequest(prompt=document[:300], max_tokens=2))
        # A different opening each time, so no request reuses another's cached pages.
        return [engine.generate(GenerationRequest(prompt=f"{n}. {document}{QUESTIONS[0]}", max_tokens=2)).prefill_seconds
                for n in range(REQUESTS)]
    finally:
        engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tokens)))
        return 0

    runs: dict[str, list[list[float]]] = {"tuned": [], "glibc defaults": []}
    for round_ in range(args.rounds):
        sides = ("tuned", "glibc defaults") if round_ % 2 == 0 else ("glibc defaults", "tuned")
        for side in sides:
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TRANSFORMERS_VERBOSITY": "error",
                   "QUIRE_ENGINE_MALLOC_TUNING": "1" if side == "tuned" else "0"}
            done = subprocess.run([sys.executable, __file__, "--child", "--tokens", str(args.tokens)], env=env,
                                  capture_output=True, text=True, check=True, cwd=ROOT)
            runs[side].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  round {round_ + 1} {side:15}: " + ", ".join(f"{s:.2f}" for s in runs[side][-1]) + " s",
                  file=sys.stderr, flush=True)
    print(f"\n{args.tokens}-token prompts, prefill seconds of requests 1..{REQUESTS} after a warm-up (median of "
          f"{args.rounds} rounds):")
    print("| malloc | " + " | ".join(f"request {n + 1}" for n in range(REQUESTS)) + " |")
    print("| --- |" + " ---: |" * REQUESTS)
    for side, rows in runs.items():
        print(f"| {side} | " + " | ".join(f"{statistics.median(r[n] for r in rows):.2f}" for n in range(REQUESTS)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

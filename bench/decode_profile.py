"""Where a decode step's time goes in the local engine, on the demo model (SmolLM2-135M-Instruct, float32, CPU): 40
decode steps at a 2,048-token context profiled in the batch's own thread (torch.profiler), split into the weight
matmuls, the attention kernel, and everything else (transformers' per-layer Python and small ops, the batch's
scheduling, the paged-cache bookkeeping); beside it, how fast this machine streams the same weights through the same
matmuls with nothing else running, which bounds what the matmul share can become in float32. Measures, never asserts;
appends to bench/RESULTS.md.

    .venv/bin/python bench/decode_profile.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
STEPS = 40

from results_file import append_section  # noqa: E402


def weights_alone(model, rounds: int = 10) -> float:
    """Milliseconds to push one token through every Linear of the model, back to back, nothing else: a decode
    step's matmuls with the weights read from memory as they are in a step (too many to stay in cache)."""
    import torch

    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = [torch.randn(1, m.in_features) for m in linears]
    with torch.no_grad():
        for m, x in zip(linears, inputs):
            m(x)
        started = time.perf_counter()
        for _ in range(rounds):
            for m, x in zip(linears, inputs):
                m(x)
    return (time.perf_counter() - started) / rounds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from torch.profiler import ProfilerActivity, profile

    from engine.api import GenerationRequest
    from engine.demo_model import cached_demo_model
    from engine.local import LocalEngine
    from llamacpp_speed import prompt_ids

    torch.set_num_threads(args.threads)
    engine = LocalEngine.from_pretrained(cached_demo_model(), device="cpu", context=8192)
    engine.eos_token_ids = []
    text = engine.tokenizer.decode(prompt_ids(2048))
    engine.generate(GenerationRequest(prompt=text, max_tokens=4))  # warm: the prompt's pages are cached from here on

    processor = engine._batch.manager.batch_processor
    step = processor._generation_step
    seen = {"n": 0, "profiler": None, "seconds": []}

    def profiled_step(model) -> None:  # in the batch's thread, which torch.profiler must be started from
        n = seen["n"]
        seen["n"] += 1
        if n == 5:
            seen["profiler"] = profile(activities=[ProfilerActivity.CPU])
            seen["profiler"].__enter__()
        started = time.perf_counter()
        step(model)
        if 5 <= n < 5 + STEPS:
            seen["seconds"].append(time.perf_counter() - started)
        if n == 5 + STEPS - 1:
            seen["profiler"].__exit__(None, None, None)

    processor._generation_step = profiled_step
    engine.generate(GenerationRequest(prompt=text, max_tokens=5 + STEPS + 5))
    processor._generation_step = step

    # The step's wall time without the profiler, for the total.
    plain = engine.generate(GenerationRequest(prompt=text, max_tokens=65))
    step_ms = plain.decode_seconds / (plain.generated_tokens - 1) * 1000
    events = seen["profiler"].key_averages()
    by_name = {e.key: e.self_cpu_time_total / 1000 / STEPS for e in events}
    traced = sum(by_name.values())
    matmul = sum(v for k, v in by_name.items() if k in ("aten::mm", "aten::addmm", "aten::bmm"))
    attention = sum(v for k, v in by_name.items() if "scaled_dot_product" in k)
    profiled_step_ms = sum(seen["seconds"]) / len(seen["seconds"]) * 1000
    alone = weights_alone(engine.model)
    weights = sum(m.weight.numel() * m.weight.element_size() for m in engine.model.modules() if isinstance(m, torch.nn.Linear))
    engine.close()
    rows = [
        ("decode step, no profiler", step_ms),
        ("decode step under the profiler", profiled_step_ms),
        ("  weight matmuls (aten::mm)", matmul),
        ("  attention kernel (CPU flash, over the pages)", attention),
        ("  other aten ops (norms, rotary, cache writes, views, ...)", traced - matmul - attention),
        ("  outside aten ops (Python: transformers' layers, the batch loop)", profiled_step_ms - traced),
        (f"the same matmuls alone, back to back ({weights / 2**20:,.0f} MiB of weights)", alone),
    ]
    lines = [f"| {name} | {ms:.1f} |" for name, ms in rows]
    print("\n".join(lines))
    if args.no_write:
        return
    append_section("Where a decode step's time goes, demo model on the local engine (bench/decode_profile.py)",
                   setup=f"{args.threads} threads; torch {torch.__version__}. {STEPS} decode steps at a 2,048-token context, "
                         "one sequence, milliseconds per step.",
                   header="| part | ms per step |\n| --- | ---: |", rows=lines)


if __name__ == "__main__":
    main()

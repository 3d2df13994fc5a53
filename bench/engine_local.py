"""The local engine (chunked prefill, paged KV cache) against transformers' own model.generate on one CPU model.

Each side runs in its own fresh subprocess so its peak RSS is its own; the two sides alternate. Each first runs one
64-token warm-up request, so one-time start-up costs (thread pools, first allocations) stay out of both figures. Runnable alone,
prints a table; it measures and never asserts. It must never download anything: the model is built locally.

    .venv/bin/python bench/engine_local.py                      # 4K, 16K, 64K prompts, 32 new tokens
    .venv/bin/python bench/engine_local.py --sizes 4096 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "cuad_train"
MODEL_OPTIONS = {"layers": 8, "hidden": 512, "heads": 8, "kv_heads": 2, "max_context": 70000, "seed": 0}
WARM_UP_TOKENS = 64
QUESTIONS = (" Question: which party may terminate this agreement, and on what notice?",
             " Question: what law governs this agreement, and where are disputes heard?")


def model_dir() -> Path:
    sys.path.insert(0, str(ROOT))
    from engine.tiny import cached_tiny_model

    return cached_tiny_model("llama", **MODEL_OPTIONS)


def corpus_text(tokenizer, n_tokens: int) -> str:
    """Real contract text, files concatenated in name order, cut to about n_tokens tokens."""
    pieces, count = [], 0
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(errors="replace")
        pieces.append(text)
        count += len(text) // 3  # cheap over-estimate of tokens; the exact cut comes below
        if count > n_tokens * 1.5:
            break
    ids = tokenizer.encode("\n\n".join(pieces), add_special_tokens=False)
    if len(ids) < n_tokens:
        raise SystemExit(f"the corpus holds only {len(ids)} tokens, fewer than {n_tokens}")
    return tokenizer.decode(ids[:n_tokens])


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------------------------- children


def child_generate(args) -> dict:
    """transformers' model.generate: sdpa attention, its default DynamicCache, greedy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.generation.streamers import BaseStreamer

    torch.set_num_threads(args.threads)
    path = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    ids = tokenizer.encode(corpus_text(tokenizer, args.tokens) + QUESTIONS[0], add_special_tokens=True)
    times: list[float] = []
    cpu_times: list[float] = []

    class Clock(BaseStreamer):
        def put(self, value) -> None:
            times.append(time.perf_counter())  # first call: the prompt; then one per generated token
            cpu_times.append(time.process_time())

        def end(self) -> None:
            pass

    inputs = torch.tensor([ids])
    eos = model.generation_config.eos_token_id
    pad = eos if isinstance(eos, int) else eos[0]
    with torch.no_grad():  # the same short warm-up as the engine side: one-time start-up costs stay out of the figures
        model.generate(inputs[:, :WARM_UP_TOKENS], attention_mask=torch.ones_like(inputs[:, :WARM_UP_TOKENS]),
                       max_new_tokens=2, do_sample=False, pad_token_id=pad)
    with torch.no_grad():
        started, cpu_started = time.perf_counter(), time.process_time()
        out = model.generate(inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=args.new, do_sample=False,
                             streamer=Clock(), pad_token_id=pad)
        ended = time.perf_counter()
    generated = out[0, len(ids):].tolist()
    first = times[1]
    return {"side": "generate", "prompt_tokens": len(ids), "generated": len(generated), "token_ids": generated,
            "prefill_s": first - started, "decode_s": ended - first, "peak_rss": peak_rss_bytes(),
            "prefill_cpu_s": cpu_times[1] - cpu_started}


def sized_budget(plan_probe, tokens: int, sequences: int = 1) -> int:
    """Bytes for exactly the pages `sequences` requests of `tokens` tokens need, at the plan's per-token cost."""
    per_token = plan_probe.kv_bytes_per_token + plan_probe.overhead_bytes_per_token
    pages = math.ceil(tokens / plan_probe.page_size) * sequences
    return per_token * plan_probe.page_size * pages


def per_token_plan(path: Path, max_batch_tokens: int):
    from transformers import AutoConfig

    from engine.local import attention
    from engine.local.memory import plan_memory

    config = AutoConfig.from_pretrained(path)
    return plan_memory(config, dtype_bytes=4, page_size=256, max_batch_tokens=max_batch_tokens, budget_bytes=1 << 40,
                       uses_mask=not attention.supported(config, "cpu"))


def child_engine(args) -> dict:
    import torch
    from transformers import AutoTokenizer

    from engine.api import GenerationRequest
    from engine.local import LocalEngine

    torch.set_num_threads(args.threads)
    path = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    document = corpus_text(tokenizer, args.tokens)
    probe = per_token_plan(path, args.mbt)
    # The engine tokenises the prompt exactly like this, so `needed` is this request's token count.
    needed = len(tokenizer.encode(document + QUESTIONS[0], add_special_tokens=True)) + args.new
    budget = None if args.budget == "default" else sized_budget(probe, needed, sequences=2 if args.prefix else 1)
    engine = LocalEngine.from_pretrained(path, memory_budget_bytes=budget, max_batch_tokens=args.mbt)
    cpu_at: dict[str, float] = {}

    def note_cpu(progress) -> None:
        if progress.stage == "decode":
            cpu_at.setdefault("first_token", time.process_time())

    try:
        # A short warm-up request (as on the generate side): a served engine has run requests before this one.
        warm_up = tokenizer.decode(tokenizer.encode(document, add_special_tokens=False)[:WARM_UP_TOKENS])
        engine.generate(GenerationRequest(prompt=QUESTIONS[1] + warm_up, max_tokens=2))
        cpu_started = time.process_time()
        cold = engine.generate(GenerationRequest(prompt=document + QUESTIONS[0], max_tokens=args.new),
                               on_progress=note_cpu)
        plan = engine.plan
        allocated_tensor = int(engine._batch.manager.batch_processor.cache.cache_tensor.numel())
        used = (cold.prompt_tokens + cold.generated_tokens) * plan.kv_bytes_per_token
        pages = math.ceil((cold.prompt_tokens + cold.generated_tokens) / plan.page_size)
        row = {"side": "engine", "mbt": args.mbt, "budget": args.budget, "prompt_tokens": cold.prompt_tokens,
               "generated": cold.generated_tokens, "token_ids": list(cold.token_ids),
               "prefill_s": cold.prefill_seconds, "decode_s": cold.decode_seconds,
               "prefill_cpu_s": cpu_at.get("first_token", float("nan")) - cpu_started,
               "kv_plan_bytes": plan.num_blocks * plan.page_size * plan.kv_bytes_per_token,
               "kv_tensor_bytes": allocated_tensor, "kv_used_bytes": used,
               "kv_pages_bytes": pages * plan.page_size * plan.kv_bytes_per_token,
               "page_bytes": plan.page_size * plan.kv_bytes_per_token}
        if args.prefix:
            warm = engine.generate(GenerationRequest(prompt=document + QUESTIONS[1], max_tokens=args.new))
            row.update(warm_prefill_s=warm.prefill_seconds, warm_cached=warm.cached_prompt_tokens,
                       warm_prompt_tokens=warm.prompt_tokens)
    finally:
        engine.close()
    row["peak_rss"] = peak_rss_bytes()
    return row


# ---------------------------------------------------------------------------------------------- parent


def run_child(side: str, tokens: int, new: int, *, mbt: int = 512, budget: str = "sized", prefix: bool = False,
              threads: int, timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", side, "--tokens", str(tokens), "--new", str(new), "--mbt", str(mbt),
               "--budget", budget, "--threads", str(threads)] + (["--prefix"] if prefix else [])
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "TRANSFORMERS_VERBOSITY": "error"})
    except subprocess.TimeoutExpired:
        return {"side": side, "mbt": mbt, "budget": budget, "error": f"not run to the end: over {timeout:.0f} s"}
    if done.returncode != 0:
        return {"side": side, "mbt": mbt, "budget": budget, "error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["wall_s"] = time.perf_counter() - started
    print(f"  {side:8} {tokens:6} mbt={mbt} budget={budget}: prefill {row['prefill_s']:.2f}s "
          f"(CPU {row['prefill_cpu_s']:.2f}s) decode {row['decode_s']:.2f}s "
          f"rss {row['peak_rss'] / 2**20:.0f}MiB", file=sys.stderr, flush=True)
    return row


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", choices=("engine", "generate"), help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, default=4096, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="4096,16384,65536")
    parser.add_argument("--new", type=int, default=32)
    parser.add_argument("--mbt", type=int, default=512, help="engine max_batch_tokens (prefill chunk)")
    parser.add_argument("--budget", choices=("sized", "default"), default="sized",
                        help="sized: cache holds exactly this request's pages; default: the engine's own plan")
    parser.add_argument("--sweep", default="512,1024,2048", help="max_batch_tokens values tried at --sweep-size")
    parser.add_argument("--sweep-size", type=int, default=16384)
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per size (medians reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=600, help="seconds one side may take for one case")
    parser.add_argument("--skip-prefix", action="store_true")
    args = parser.parse_args()

    if args.child:
        row = child_generate(args) if args.child == "generate" else child_engine(args)
        print(json.dumps(row))
        return 0

    model_dir()  # build once, before any timing
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kw = {"threads": args.threads, "timeout": args.timeout}
    results: dict[int, dict[str, list[dict]]] = {}
    for size in sizes:
        results[size] = {"engine": [], "generate": []}
        for round_ in range(args.rounds):
            order = ("engine", "generate") if round_ % 2 == 0 else ("generate", "engine")
            for side in order:
                results[size][side].append(run_child(side, size, args.new, mbt=args.mbt, budget=args.budget, **kw))

    print(f"\nmodel: llama {MODEL_OPTIONS}, float32, {args.threads} threads, {args.new} new tokens, "
          f"engine max_batch_tokens={args.mbt}, budget={args.budget}")
    print("| prompt | side | prefill tok/s | decode tok/s | peak RSS MiB | prefill x | decode x | RSS x | same ids |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for size in sizes:
        sides = {side: [r for r in rows if "error" not in r] for side, rows in results[size].items()}
        stats = {}
        for side, rows in sides.items():
            if not rows:
                error = results[size][side][0]["error"]
                print(f"| {size} | {side} | not run: {error} | | | | | | |")
                continue
            stats[side] = {
                "prefill": median_of([{"v": r["prompt_tokens"] / r["prefill_s"]} for r in rows], "v"),
                "decode": median_of([{"v": (r["generated"] - 1) / r["decode_s"]} for r in rows], "v"),
                "rss": median_of(rows, "peak_rss") / 2**20,
                "ids": rows[0]["token_ids"],
            }
        for side in ("engine", "generate"):
            if side not in stats:
                continue
            s = stats[side]
            ratios = "| | |"
            same = ""
            if side == "engine" and "generate" in stats:
                g = stats["generate"]
                ratios = f"| {s['prefill'] / g['prefill']:.2f} | {s['decode'] / g['decode']:.2f} | {s['rss'] / g['rss']:.2f} |"
                same = "yes" if s["ids"] == g["ids"] else "NO"
            elif side == "engine":
                ratios = "| | | |"
            print(f"| {size} | {side} | {s['prefill']:.0f} | {s['decode']:.1f} | {s['rss']:.0f} {ratios} {same} |")
        pairs = [(e, g) for e, g in zip(results[size]["engine"], results[size]["generate"])
                 if "error" not in e and "error" not in g]
        if pairs:
            # Each round's two sides ran back to back, so their ratio is the least disturbed by a slow spell of the
            # shared machine; CPU seconds leave out time the process spent waiting for a core at all.
            wall = [g["prefill_s"] / e["prefill_s"] for e, g in pairs]
            cpu = [g["prefill_cpu_s"] / e["prefill_cpu_s"] for e, g in pairs]
            print(f"  prefill x per round (wall): {', '.join(f'{r:.3f}' for r in wall)}; median {statistics.median(wall):.3f}")
            print(f"  prefill x per round (CPU seconds): {', '.join(f'{r:.3f}' for r in cpu)}; "
                  f"median {statistics.median(cpu):.3f}")
        for row in sides["engine"][:1]:
            waste = row["kv_plan_bytes"] - row["kv_used_bytes"]
            print(f"  KV {size}: plan {row['kv_plan_bytes'] / 2**20:.1f} MiB, cache tensor {row['kv_tensor_bytes'] / 2**20:.1f} MiB, "
                  f"used {row['kv_used_bytes'] / 2**20:.1f} MiB, plan-used {waste / 2**20:.2f} MiB "
                  f"({waste / row['page_bytes']:.2f} pages of {row['page_bytes'] / 2**20:.1f} MiB), "
                  f"tensor-used {(row['kv_tensor_bytes'] - row['kv_used_bytes']) / row['page_bytes']:.2f} pages")

    if args.sweep:
        print(f"\nmax_batch_tokens sweep at {args.sweep_size} tokens (engine only, sized budget unless noted):")
        print("| max_batch_tokens | budget | prefill tok/s | decode tok/s | peak RSS MiB |")
        print("| ---: | --- | ---: | ---: | ---: |")
        for mbt in [int(m) for m in args.sweep.split(",") if m]:
            for budget in ("sized", "default") if mbt == 512 else ("sized",):
                row = run_child("engine", args.sweep_size, args.new, mbt=mbt, budget=budget, **kw)
                if "error" in row:
                    print(f"| {mbt} | {budget} | not run: {row['error']} | | |")
                    continue
                print(f"| {mbt} | {budget} | {row['prompt_tokens'] / row['prefill_s']:.0f} | "
                      f"{(row['generated'] - 1) / row['decode_s']:.1f} | {row['peak_rss'] / 2**20:.0f} |")

    if not args.skip_prefix:
        row = run_child("engine", 16384, args.new, mbt=args.mbt, budget="sized", prefix=True, **kw)
        if "error" in row:
            print(f"\nshared 16K prefix: not run: {row['error']}")
        else:
            print(f"\nshared 16K-token document prefix, different final question (max_batch_tokens={args.mbt}):")
            print(f"  cold prefill {row['prefill_s']:.2f} s ({row['prompt_tokens']} tokens), warm prefill "
                  f"{row['warm_prefill_s']:.2f} s ({row['warm_cached']} of {row['warm_prompt_tokens']} tokens from cache): "
                  f"{100 * row['warm_prefill_s'] / row['prefill_s']:.1f}% of cold")
    return 0


if __name__ == "__main__":
    sys.exit(main())

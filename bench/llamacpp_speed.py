"""The local engine against llama.cpp, the engine people run small models with on CPUs: the demo model
(SmolLM2-135M-Instruct) in the same precision on both (an F32 GGUF made from the packaged Q4_1 by llama.cpp's own
quantize call, since the local engine computes in float32 on CPU; llama.cpp on the Q4_1 file as a second row),
the same prompt token ids (real contract text), greedy: prefill and decode tokens/s at 2K and 6K prompt tokens,
and each run's peak RSS (every run in its own process; both hold a cache for one 8,192-token sequence). The engines
take turns, round after round, and each figure is the median of the rounds: on this shared 2-core host a single run
moves with whatever else runs (one taken beside a test run read llama.cpp's decode 5x low), and turns spread a slow
minute over every engine alike. Measures, never asserts; appends to bench/RESULTS.md.

    .venv/bin/python bench/llamacpp_speed.py                 # 2,048 and 6,144 tokens, 64 decoded, 2 threads, 3 rounds
    .venv/bin/python bench/llamacpp_speed.py --tokens 2048 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from results_file import append_section  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "cuad_train"


def prompt_ids(n: int) -> list[int]:
    from transformers import AutoTokenizer

    from engine.demo_model import cached_demo_model

    tokenizer = AutoTokenizer.from_pretrained(cached_demo_model())
    text = "\n\n".join(p.read_text(errors="replace") for p in sorted(CORPUS.glob("*.txt"))[:20])
    ids = tokenizer.encode(text, add_special_tokens=False)[:n]
    assert len(ids) == n, "the corpus text is shorter than the prompt"
    return ids


def run_local(ids: list[int], new_tokens: int, threads: int) -> dict:
    import torch

    from engine.api import GenerationRequest
    from engine.demo_model import cached_demo_model
    from engine.local import LocalEngine

    from transformers import AutoConfig

    from engine.local.memory import plan_memory

    torch.set_num_threads(threads)
    # A cache for one 8,192-token sequence, as llama.cpp allocates for its n_ctx (not the default plan's four).
    folder = cached_demo_model()
    budget = plan_memory(AutoConfig.from_pretrained(folder), dtype_bytes=4, page_size=256, max_batch_tokens=2048,
                         budget_bytes=None, uses_mask=False, cache_tokens=8192).budget_bytes
    engine = LocalEngine.from_pretrained(folder, device="cpu", context=8192, memory_budget_bytes=budget)
    engine.eos_token_ids = []  # always `new_tokens` tokens, as llama.cpp is asked for
    text = engine.tokenizer.decode(ids)
    request = GenerationRequest(prompt=text, max_tokens=new_tokens)
    prompt = len(engine.prompt_ids(request))
    result = engine.generate(request)
    return {"prompt_tokens": prompt, "prefill_seconds": result.prefill_seconds,
            "decode_tokens": result.generated_tokens - 1, "decode_seconds": result.decode_seconds}


def run_llamacpp(gguf: str, ids: list[int], new_tokens: int, threads: int) -> dict:
    from llama_cpp import Llama

    llm = Llama(model_path=gguf, n_ctx=8192, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
    started = time.perf_counter()
    first_at, count = None, 0
    for _ in llm.generate(ids, temp=0.0, top_k=1, reset=True):
        count += 1
        if first_at is None:
            first_at = time.perf_counter()
        if count >= new_tokens:
            break
    ended = time.perf_counter()
    return {"prompt_tokens": len(ids), "prefill_seconds": first_at - started, "decode_tokens": count - 1,
            "decode_seconds": ended - first_at}


def f32_gguf(out: Path) -> Path:
    """The packaged Q4_1 file rewritten as F32 by llama.cpp's own quantize call (ftype 0), once."""
    import llama_cpp

    from engine.demo_model import gguf_path

    if out.is_file():
        return out
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = 0
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(str(gguf_path()).encode(), str(out).encode(), params) != 0:
        raise SystemExit("llama_model_quantize failed")
    return out


def worker(args) -> None:
    ids = prompt_ids(args.tokens)
    if args.worker == "local":
        row = run_local(ids, args.new_tokens, args.threads)
    else:
        row = run_llamacpp(args.gguf, ids, args.new_tokens, args.threads)
    row["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", default="2048,6144")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the median")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", choices=("local", "llamacpp"), help=argparse.SUPPRESS)
    parser.add_argument("--gguf", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.tokens = int(args.tokens)
        worker(args)
        return
    from engine.demo_model import cached_demo_model, gguf_path

    cached_demo_model()
    f32 = f32_gguf(Path(os.environ.get("QUIRE_CACHE_DIR") or Path.home() / ".cache" / "quire") / "SmolLM2-135M-Instruct.F32.gguf")
    engines = [("local engine (float32)", ["--worker", "local"]), ("llama.cpp F32", ["--worker", "llamacpp", "--gguf", str(f32)]),
               ("llama.cpp Q4_1", ["--worker", "llamacpp", "--gguf", str(gguf_path())])]
    lines = []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    for tokens in (int(t) for t in args.tokens.split(",")):
        rounds: dict[str, list[dict]] = {name: [] for name, _ in engines}
        for _ in range(args.repeat):
            for name, extra in engines:
                done = subprocess.run([sys.executable, __file__, "--tokens", str(tokens), "--new-tokens", str(args.new_tokens),
                                       "--threads", str(args.threads), *extra], capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rounds[name].append({"prefill": row["prompt_tokens"] / row["prefill_seconds"],
                                     "decode": row["decode_tokens"] / row["decode_seconds"],
                                     "peak_rss_bytes": row["peak_rss_bytes"]})
        measured = {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for name, runs in rounds.items()}
        peer = measured["llama.cpp F32"]
        for name, row in measured.items():
            lines.append(f"| {tokens:,} | {name} | {row['prefill']:,.0f} (x{row['prefill'] / peer['prefill']:.2f}) | "
                         f"{row['decode']:,.1f} (x{row['decode'] / peer['decode']:.2f}) | "
                         f"{row['peak_rss_bytes'] / 2**30:.2f} (x{row['peak_rss_bytes'] / peer['peak_rss_bytes']:.2f}) |")
            print(lines[-1], flush=True)
    if args.no_write:
        return
    import llama_cpp
    import torch

    append_section("The local engine against llama.cpp on the demo model (bench/llamacpp_speed.py)",
                   setup=f"{args.threads} threads; torch {torch.__version__}, llama-cpp-python {llama_cpp.__version__}. "
                         f"SmolLM2-135M-Instruct, greedy, {args.new_tokens} tokens decoded; medians of {args.repeat} rounds, "
                         "ratios against llama.cpp F32 in the same run.",
                   header="| prompt tokens | engine | prefill tokens/s | decode tokens/s | peak RSS GiB |\n| ---: | --- | ---: | ---: | ---: |",
                   rows=lines)


if __name__ == "__main__":
    main()

"""DeepSeek-V4 on the paged engine (engine.v4) against transformers' own DeepseekV4ForCausalLM, on CPU.

Model: the random-weight V4 the engine issue measured the reference with (hidden 128, 4 layers: three HCA
and one CSA, index top-k 64, 2 indexer heads, window 128), its vocabulary our tiny tokenizer's. Each part
runs in its own subprocess so its peak RSS is its own. Measures and never asserts; downloads nothing.

    .venv/bin/python bench/engine_v4.py                          # every part (about 40 minutes on 2 cores)
    .venv/bin/python bench/engine_v4.py --parts speed --sizes 8192
    .venv/bin/python bench/engine_v4.py --parts long --long-tokens 262144

Parts:
  speed     prefill of N random tokens: the reference's one forward (use_cache=False) vs our chunked prefill,
            and the last position's logits compared
  long      a 1,048,576-token prompt through our chunked prefill: time at every 64K tokens, peak RSS,
            measured cache bytes per token against the count from the config (and that count for V4-Flash)
  followup  a 256K-token document prefilled cold through the Engine API with its cache saved to disk; a fresh
            engine loads it and answers a follow-up: time to first token against the cold prefill
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "cuad_train"
CHUNK = 2048


def model_dir() -> Path:
    """The engine issue's V4 config, saved like a checkpoint once per machine (under QUIRE_CACHE_DIR)."""
    sys.path.insert(0, str(ROOT))
    import torch
    import transformers

    from engine.tiny import _randomize_hash_routing
    from engine.tokenizer_train import cached_tokenizer, default_cache_dir, save_tokenizer

    target = default_cache_dir() / "bench-models" / f"v4-issue-config-{transformers.__version__}"
    if (target / "model.safetensors").is_file():
        return target
    tokenizer = cached_tokenizer()
    config = transformers.DeepseekV4Config(
        vocab_size=len(tokenizer), hidden_size=128, moe_intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=1, head_dim=64, q_lora_rank=64, n_routed_experts=8, num_experts_per_tok=2, hc_mult=2,
        o_groups=2, o_lora_rank=32, index_n_heads=2, index_head_dim=32, index_topk=64, sliding_window=128,
        max_position_embeddings=1 << 21, num_nextn_predict_layers=0,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|end_of_text|>"),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        _randomize_hash_routing(model, seed=0)
    staging = Path(tempfile.mkdtemp(prefix=".v4-", dir=target.parent if target.parent.exists() else None))
    model.generation_config = transformers.GenerationConfig(eos_token_id=config.eos_token_id)
    model.save_pretrained(staging)
    save_tokenizer(tokenizer, staging)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    return target


def _load_model():
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir(), dtype=torch.float32, attn_implementation="eager").eval()


def _ours_prefill(model, ids, *, on_boundary=None, every=65536):
    from engine.v4.cache import CacheGeometry, Pools, SequenceCache
    from engine.v4.forward import forward

    cache = SequenceCache.empty(Pools(CacheGeometry.from_model(model)))
    logits = None
    for start in range(0, len(ids), CHUNK):
        logits = forward(model, ids[start:start + CHUNK], cache)
        if on_boundary and (start + CHUNK) % every == 0:
            on_boundary(start + CHUNK)
    return cache, logits


def part_speed(size: int, side: str) -> dict:
    import torch

    model = _load_model()
    ids = torch.randint(0, model.config.vocab_size, (size,), generator=torch.Generator().manual_seed(size)).tolist()
    started = time.perf_counter()
    with torch.no_grad():
        if side == "reference":
            logits = model(torch.tensor([ids]), use_cache=False).logits[0, -1]
        else:
            logits = _ours_prefill(model, ids)[1][0]
    seconds = time.perf_counter() - started
    return {"side": side, "tokens": size, "seconds": seconds, "last_logits": logits.tolist(),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def part_long(size: int) -> dict:
    import torch
    import transformers

    from engine.v4.cache import CacheGeometry

    model = _load_model()
    ids = torch.randint(0, model.config.vocab_size, (size,), generator=torch.Generator().manual_seed(1)).tolist()
    marks = []
    started = time.perf_counter()

    def mark(tokens: int) -> None:
        marks.append((tokens, time.perf_counter() - started))
        print(f"  {tokens} tokens at {marks[-1][1]:.0f} s", file=sys.stderr, flush=True)

    cache, _ = _ours_prefill(model, ids, on_boundary=mark)
    seconds = time.perf_counter() - started
    geometry = CacheGeometry.from_model(model)
    flash = transformers.DeepseekV4Config()  # transformers' defaults are V4-Flash's shape
    flash_geometry = CacheGeometry(kinds=list(flash.layer_types), head_dim=flash.head_dim, index_head_dim=flash.index_head_dim,
                                   sliding_window=flash.sliding_window, rates=dict(flash.compress_rates), dtype=torch.bfloat16,
                                   devices=[torch.device("cpu")] * flash.num_hidden_layers)
    return {
        "tokens": size, "seconds": seconds, "marks": marks,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "measured_bytes_per_token": cache.row_bytes() / size,
        "config_bytes_per_token": geometry.kv_bytes_per_token(),
        "flash_bytes_per_token_bf16": flash_geometry.kv_bytes_per_token(),
        "flash_layers": {kind: flash.layer_types.count(kind) for kind in set(flash.layer_types)},
        "window_bytes": geometry.window_bytes(),
    }


def corpus_text(tokenizer, n_tokens: int) -> str:
    pieces, total = [], 0
    files = sorted(CORPUS.glob("*.txt"))
    while total < n_tokens:
        for path in files:
            text = path.read_text(errors="replace")
            pieces.append(text)
            total += len(tokenizer.encode(text, add_special_tokens=False))
            if total >= n_tokens:
                break
    ids = tokenizer.encode("\n".join(pieces), add_special_tokens=False)[:n_tokens]
    return tokenizer.decode(ids)


def part_followup(size: int) -> dict:
    from engine.api import GenerationRequest
    from engine.local import LocalEngine

    folder = tempfile.mkdtemp(prefix="quire-v4-prefix-")
    cold_engine = LocalEngine.from_pretrained(model_dir(), device="cpu", max_batch_tokens=CHUNK, prefix_cache_dir=folder)
    document = corpus_text(cold_engine.tokenizer, size)
    ask = lambda question: GenerationRequest(prompt=document + question, max_tokens=8)  # noqa: E731
    cold = cold_engine.generate(ask("\nQuestion: who are the parties?\nAnswer:"))
    cold_engine.close()
    saved_bytes = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())

    started = time.perf_counter()
    warm_engine = LocalEngine.from_pretrained(model_dir(), device="cpu", max_batch_tokens=CHUNK, prefix_cache_dir=folder)
    loaded_at = time.perf_counter()
    warm = warm_engine.generate(ask("\nQuestion: what law governs this agreement?\nAnswer:"))
    return {
        "prompt_tokens": cold.prompt_tokens, "cold_prefill_seconds": cold.prefill_seconds,
        "followup_prompt_tokens": warm.prompt_tokens, "followup_cached_tokens": warm.cached_prompt_tokens,
        "followup_first_token_seconds": warm.prefill_seconds, "engine_load_seconds": loaded_at - started,
        "saved_cache_bytes": saved_bytes,
    }


def _child(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *argv], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    sys.stderr.write(out.stderr[-4000:] if out.returncode else "")
    if out.returncode:
        raise SystemExit(f"child {argv} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="speed,long,followup")
    parser.add_argument("--sizes", default="8192,16384")
    parser.add_argument("--long-tokens", type=int, default=1 << 20)
    parser.add_argument("--followup-tokens", type=int, default=1 << 18)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        kind, *rest = args.child
        result = {"speed": lambda: part_speed(int(rest[0]), rest[1]), "long": lambda: part_long(int(rest[0])),
                  "followup": lambda: part_followup(int(rest[0]))}[kind]()
        print(json.dumps(result))
        return

    model_dir()
    parts = args.parts.split(",")
    if "speed" in parts:
        print("| tokens | reference s | ours s | speed-up | last-position logits max abs diff | RSS ref / ours (MiB) |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for size in (int(s) for s in args.sizes.split(",")):
            ours = _child(["speed", str(size), "ours"])
            ref = _child(["speed", str(size), "reference"])
            diff = max(abs(a - b) for a, b in zip(ours["last_logits"], ref["last_logits"]))
            print(f"| {size} | {ref['seconds']:.1f} | {ours['seconds']:.2f} | {ref['seconds'] / ours['seconds']:.1f}x | {diff:.2e} "
                  f"| {ref['peak_rss_bytes'] / 2**20:.0f} / {ours['peak_rss_bytes'] / 2**20:.0f} |", flush=True)
    if "long" in parts:
        long = _child(["long", str(args.long_tokens)])
        print(f"\nLong prompt: {long['tokens']} tokens in {long['seconds']:.0f} s ({long['seconds'] / 60:.1f} min), "
              f"peak RSS {long['peak_rss_bytes'] / 2**30:.2f} GiB")
        print("\n| tokens | elapsed s | ms per token in this 64K |")
        print("| ---: | ---: | ---: |")
        previous = (0, 0.0)
        for tokens, elapsed in long["marks"]:
            print(f"| {tokens} | {elapsed:.0f} | {1000 * (elapsed - previous[1]) / (tokens - previous[0]):.3f} |")
            previous = (tokens, elapsed)
        print(f"\nCache bytes per token: measured {long['measured_bytes_per_token']:.2f}, from the config "
              f"{long['config_bytes_per_token']:.2f} (float32; sliding windows {long['window_bytes']} bytes on top); "
              f"V4-Flash in bf16: {long['flash_bytes_per_token_bf16']:.0f} bytes per token ({long['flash_layers']})")
    if "followup" in parts:
        f = _child(["followup", str(args.followup_tokens)])
        print(f"\nFollow-up over a saved document cache: cold prefill {f['prompt_tokens']} tokens in {f['cold_prefill_seconds']:.1f} s; "
              f"a fresh engine ({f['engine_load_seconds']:.1f} s to load the model) reused {f['followup_cached_tokens']} of "
              f"{f['followup_prompt_tokens']} tokens and gave its first token after {f['followup_first_token_seconds']:.2f} s "
              f"= {100 * f['followup_first_token_seconds'] / f['cold_prefill_seconds']:.2f}% of cold; cache on disk "
              f"{f['saved_cache_bytes'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

"""engine.v4 on one CUDA GPU (written for an H200, 141 GB, no network): random-weight DeepSeek-V4 with the real
attention dimensions (hidden 4096, 64 query heads of 512, one KV head, q/o LoRA 1024, 8 output groups, indexer
64 x 128 with top-512, window 128) and a few layers covering every attention kind, with a small MoE (the
experts do not touch attention or cache, and 256 real-size experts per layer would only cost load time).

1. equivalence at 4,096 tokens in float32 against transformers' eager DeepseekV4ForCausalLM on the GPU;
2. bf16 prefill at 128K, 512K and 1M tokens through the chunked paged path: tokens/s and peak GPU memory.

Results are appended to bench/RESULTS.md with the command, date and device. Measures, never asserts.

    .venv/bin/python bench/gpu_v4.py                       # everything (sized for one ~10-minute call)
    .venv/bin/python bench/gpu_v4.py --sizes 131072 --skip-equivalence
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(dtype, layers: int):
    import torch
    import transformers

    kinds = ["sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention", "compressed_sparse_attention"]
    config = transformers.DeepseekV4Config(
        vocab_size=4096, num_hidden_layers=layers, layer_types=(kinds * layers)[:layers],
        mlp_layer_types=["hash_moe"] + ["moe"] * (layers - 1), n_routed_experts=8, num_experts_per_tok=2,
        moe_intermediate_size=512, num_nextn_predict_layers=0, max_position_embeddings=1 << 20,
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="eager").eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("sinks", "position_bias")):
                parameter.normal_(0, 0.5)
        for module in model.modules():
            table = getattr(module, "tid2eid", None)
            if isinstance(table, torch.Tensor):
                table.copy_(torch.rand(table.shape[0], 8, device="cuda").argsort(dim=1)[:, : table.shape[1]])
    return model


def prefill(model, ids, chunk: int):
    from engine.v4.cache import CacheGeometry, Pools, SequenceCache
    from engine.v4.forward import forward

    cache = SequenceCache.empty(Pools(CacheGeometry.from_model(model)))
    logits = None
    for start in range(0, len(ids), chunk):
        logits = forward(model, ids[start:start + chunk], cache, all_logits=False)
    return cache, logits


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="131072,524288,1048576")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=8192)
    parser.add_argument("--skip-equivalence", action="store_true")
    args = parser.parse_args()
    lines = []
    device = torch.cuda.get_device_name(0)

    if not args.skip_equivalence:
        model = build(torch.float32, args.layers)
        ids = torch.randint(0, 4096, (4096,), device="cuda")
        with torch.no_grad():
            expected = model(ids.view(1, -1), use_cache=False).logits[0, -64:]
        from engine.v4.cache import CacheGeometry, Pools, SequenceCache
        from engine.v4.forward import forward

        for chunk in (4096, 1000):
            cache = SequenceCache.empty(Pools(CacheGeometry.from_model(model)))
            outs = [forward(model, ids[s:s + chunk], cache, all_logits=True) for s in range(0, 4096, chunk)]
            diff = (torch.cat(outs)[-64:] - expected).abs().max().item()
            lines.append(f"| equivalence, float32, 4,096 tokens, chunk {chunk} | last 64 positions' logits max abs diff {diff:.2e} |")
            print(lines[-1], flush=True)
        del model, expected
        torch.cuda.empty_cache()

    model = build(torch.bfloat16, args.layers)
    for size in (int(s) for s in args.sizes.split(",")):
        ids = torch.randint(0, 4096, (size,), device="cuda")
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
        started = time.perf_counter()
        cache, _ = prefill(model, ids, args.chunk)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        peak = torch.cuda.max_memory_allocated() / 2**30
        lines.append(f"| prefill bf16, {size:,} tokens, chunk {args.chunk} | {seconds:.1f} s, {size / seconds:,.0f} tokens/s, "
                     f"peak GPU memory {peak:.1f} GiB, cache rows {cache.row_bytes() / 2**30:.2f} GiB |")
        print(lines[-1], flush=True)
        cache.free()
        del cache
        torch.cuda.empty_cache()

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with open(ROOT / "bench" / "RESULTS.md", "a") as out:
        out.write(f"\n## DeepSeek-V4 paged engine on GPU (bench/gpu_v4.py), {stamp}\n\n")
        out.write(f"Command: `.venv/bin/python bench/gpu_v4.py {' '.join(sys.argv[1:])}`  \n")
        out.write(f"Machine: {device}, torch {torch.__version__}, commit {commit}; {args.layers} layers at V4-Flash attention "
                  "dimensions, small MoE, attention backend `torch` (engine.v4.kernels)\n\n| run | result |\n| --- | --- |\n")
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

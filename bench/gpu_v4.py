"""engine.v4 on one CUDA GPU (an H100 or H200, no network), everything in one prepared call of under 8 minutes:

1. published layout: the `tiny-model --published-layout` checkpoint (DeepSeek's names, FP8 weights, FP4 experts)
   loaded by the engine as on any GPU (weights kept FP8/FP4 through transformers' FP8 modules) against
   transformers' reference dequantized to float32 from the same files: logits and greedy agreement, and GPU
   memory after load against `engine plan`;
2. a larger random V4 at V4-Flash's attention dimensions (hidden 4096, 64 query heads of 512, one KV head, q/o
   LoRA 1024, 8 output groups, indexer 64 x 128 with top-512, window 128; every layer kind; real-width experts,
   fewer of them): GPU memory after load against the plan, bf16 prefill tokens/s at 32K and 128K through the
   chunked paged path, decode tokens/s after the longest prompt;
3. the fused Triton attention kernel against the PyTorch path on the same prompt: logits and time.

`--dry-run` does all of it on the CPU at toy sizes (the Triton kernel under Triton's interpreter) and writes
nothing: the tests run it, so the one GPU call cannot fail on a typo. A real run appends its table to
bench/RESULTS.md with the command, date and device. Measures, never asserts.

    .venv/bin/python bench/gpu_v4.py              # on the GPU machine
    .venv/bin/python bench/gpu_v4.py --dry-run    # here, in about a minute
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _allocated(device, model=None) -> int:
    """Bytes the model holds on the device: the CUDA allocator's count, or (dry run) its tensors' sizes."""
    import torch

    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def published_layout(device, lines: list[str]) -> None:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils.quantization_config import FineGrainedFP8Config

    from engine.local import LocalEngine
    from engine.model_plan import plan_model
    from engine.tiny import build_tiny_model
    from engine.v4.cache import CacheGeometry, Pools, SequenceCache
    from engine.v4.forward import forward

    folder = Path(tempfile.mkdtemp(prefix="published-v4-"))
    build_tiny_model("deepseek_v4", folder, heads=16, hidden=256, vocab=1024, max_context=16384, published_layout=True)
    plan = plan_model(folder, device=device.type, context=4096)
    before = _allocated(device) if device.type == "cuda" else 0
    engine = LocalEngine.from_pretrained(folder, device=device.type)
    loaded = _allocated(device, engine.model) - before
    kept = {str(p.dtype).removeprefix("torch.") for p in engine.model.parameters()}
    reference = AutoModelForCausalLM.from_pretrained(
        folder, attn_implementation="eager", dtype=torch.float32,
        quantization_config=FineGrainedFP8Config(dequantize=True, weight_block_size=(128, 128), scale_fmt="ue8m0",
                                                 expert_dtype="fp4")).to(device=device, dtype=torch.float32).eval()
    ids = torch.randint(0, 1024, (2048,), generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        expected = reference(ids.view(1, -1), use_cache=False).logits[0].float()
    cache = SequenceCache.empty(Pools(CacheGeometry.from_model(engine.model)))
    ours = torch.cat([forward(engine.model, ids[s:s + 512], cache, all_logits=True, backend=engine.backend)
                      for s in range(0, len(ids), 512)]).float()
    agree = (ours.argmax(-1) == expected.argmax(-1)).float().mean().item()
    cosine = torch.nn.functional.cosine_similarity(ours, expected, dim=-1).min().item()
    lines.append(f"| published layout, 2,048 tokens: engine ({', '.join(sorted(kept))} weights) vs transformers dequantized "
                 f"to float32 | max abs logit diff {(ours - expected).abs().max().item():.2e}, lowest cosine {cosine:.5f}, "
                 f"greedy agreement {agree:.1%} |")
    print(lines[-1], flush=True)
    lines.append(f"| published layout: memory after load vs `engine plan` | {loaded:,} vs {plan.weights_bytes:,} bytes "
                 f"(x{loaded / plan.weights_bytes:.3f}) |")
    print(lines[-1], flush=True)
    engine.close()
    del engine, reference, cache


# The dry run's "larger" model: V4-Flash's layer kinds and mechanisms at widths a CPU runs in seconds.
TOY_WIDTHS = {"hidden_size": 256, "num_attention_heads": 16, "head_dim": 64, "q_lora_rank": 128, "o_lora_rank": 128,
              "o_groups": 2, "moe_intermediate_size": 256, "index_n_heads": 16, "index_head_dim": 32, "index_topk": 16}


def build_large(device, dtype, layers: int, experts: int, vocab: int, *, toy: bool):
    """V4-Flash's attention at full width, every layer kind, real-width experts (fewer of them), random weights."""
    import torch
    import transformers

    kinds = ["sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention", "compressed_sparse_attention"]
    config = transformers.DeepseekV4Config(
        vocab_size=vocab, num_hidden_layers=layers, layer_types=(kinds * layers)[:layers],
        mlp_layer_types=["hash_moe"] + ["moe"] * (layers - 1), n_routed_experts=experts, num_experts_per_tok=min(6, experts),
        num_nextn_predict_layers=0, max_position_embeddings=1 << 20, **(TOY_WIDTHS if toy else {}),
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="eager").eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("sinks", "position_bias")):
                parameter.normal_(0, 0.5)
        for module in model.modules():
            table = getattr(module, "tid2eid", None)
            if isinstance(table, torch.Tensor):
                table.copy_(torch.rand(table.shape[0], experts, device=device).argsort(dim=1)[:, : table.shape[1]])
    return model, config


def large_model(device, args, lines: list[str]) -> None:
    import torch

    from engine.model_plan import plan_model
    from engine.v4.cache import CacheGeometry, Pools, SequenceCache
    from engine.v4.forward import TORCH, TRITON, choose_backend, forward

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    before = _allocated(device) if device.type == "cuda" else 0
    model, config = build_large(device, dtype, args.layers, args.experts, args.vocab, toy=args.dry_run)
    loaded = _allocated(device, model) - before
    folder = Path(tempfile.mkdtemp(prefix="large-v4-"))
    config.save_pretrained(folder)
    plan = plan_model(folder, device=device.type, context=max(args.sizes))
    described = f"{args.layers} layers, {args.experts} experts of width {config.moe_intermediate_size}, {dtype}"
    lines.append(f"| larger random V4 ({described}): memory after load vs `engine plan` | {loaded:,} vs "
                 f"{plan.weights_bytes:,} bytes (x{loaded / plan.weights_bytes:.3f}) |")
    print(lines[-1], flush=True)
    backend, why = choose_backend(device)

    def prefill(ids, chosen):
        cache = SequenceCache.empty(Pools(CacheGeometry.from_model(model)))
        logits = None
        for start in range(0, len(ids), args.chunk):
            logits = forward(model, ids[start:start + args.chunk], cache, backend=chosen)
        return cache, logits

    cache = None
    for size in args.sizes:
        ids = torch.randint(0, args.vocab, (size,), device=device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        _sync(device)
        started = time.perf_counter()
        cache, logits = prefill(ids, backend)
        _sync(device)
        seconds = time.perf_counter() - started
        peak = f", peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB" if device.type == "cuda" else ""
        lines.append(f"| prefill {size:,} tokens, chunk {args.chunk}, attention `{backend}` | {seconds:.2f} s, "
                     f"{size / seconds:,.0f} tokens/s{peak}, cache rows {cache.row_bytes() / 2**20:,.1f} MiB |")
        print(lines[-1], flush=True)
        if size != args.sizes[-1]:
            cache.free()
    token = int(logits.argmax())
    _sync(device)
    started = time.perf_counter()
    for _ in range(args.decode):
        token = int(forward(model, [token], cache, backend=backend).argmax())
    _sync(device)
    seconds = time.perf_counter() - started
    lines.append(f"| decode after {args.sizes[-1]:,} tokens, attention `{backend}` | {args.decode} tokens in {seconds:.2f} s, "
                 f"{args.decode / seconds:,.1f} tokens/s |")
    print(lines[-1], flush=True)
    cache.free()

    ids = torch.randint(0, args.vocab, (args.kernel_tokens,), device=device)
    timings, outputs = {}, {}
    for chosen in (TORCH, TRITON):
        _sync(device)
        started = time.perf_counter()
        cache, logits = prefill(ids, chosen)
        _sync(device)
        timings[chosen], outputs[chosen] = time.perf_counter() - started, logits.float()
        cache.free()
    diff = (outputs[TRITON] - outputs[TORCH]).abs().max().item()
    lines.append(f"| Triton kernel vs PyTorch path, {args.kernel_tokens:,} tokens (engine's choice here: `{backend}`: {why}) | "
                 f"last logits max abs diff {diff:.2e}; {timings[TRITON]:.2f} s vs {timings[TORCH]:.2f} s "
                 f"(x{timings[TORCH] / timings[TRITON]:.2f}) |")
    print(lines[-1], flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="everything on the CPU at toy sizes; writes nothing")
    parser.add_argument("--sizes", default=None, help="prefill lengths, comma-separated (default 32768,131072)")
    parser.add_argument("--layers", type=int, default=None, help="larger model's layers (default 8)")
    parser.add_argument("--experts", type=int, default=None, help="larger model's routed experts (default 16)")
    parser.add_argument("--chunk", type=int, default=None, help="prefill chunk (default 8192)")
    parser.add_argument("--decode", type=int, default=None, help="tokens decoded after the longest prompt (default 64)")
    parser.add_argument("--kernel-tokens", type=int, default=None, help="prompt for the kernel comparison (default 8192)")
    args = parser.parse_args(argv)
    toy = args.dry_run
    if toy:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported: the kernel runs on the CPU
    defaults = {"sizes": "256,600" if toy else "32768,131072", "layers": 3 if toy else 8, "experts": 4 if toy else 16,
                "chunk": 256 if toy else 8192, "decode": 4 if toy else 64, "kernel_tokens": 160 if toy else 8192}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.sizes = [int(s) for s in str(args.sizes).split(",")]
    args.vocab = 1024 if toy else 32768

    import torch

    if toy:
        device = torch.device("cpu")
        if args.layers > 3 or max(args.sizes) > 4096:
            parser.error("--dry-run is for toy sizes")
    elif not torch.cuda.is_available():
        parser.error("no CUDA device: run with --dry-run to check the script on the CPU")
    else:
        device = torch.device("cuda", 0)
    name = "CPU (dry run)" if toy else torch.cuda.get_device_name(device)
    lines: list[str] = []
    published_layout(device, lines)
    large_model(device, args, lines)
    if toy:
        print("dry run: nothing written", flush=True)
        return 0
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with open(ROOT / "bench" / "RESULTS.md", "a") as out:
        out.write(f"\n## DeepSeek-V4 on GPU: published layout, memory plan, prefill/decode, Triton (bench/gpu_v4.py), {stamp}\n\n")
        out.write(f"Command: `.venv/bin/python bench/gpu_v4.py {' '.join(sys.argv[1:])}`  \n")
        out.write(f"Machine: {name}, torch {torch.__version__}, commit {commit}\n\n| run | result |\n| --- | --- |\n")
        out.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

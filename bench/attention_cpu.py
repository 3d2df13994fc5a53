"""One layer's attention on the CPU, alone: the whole-prompt causal pass `model.generate` runs, against
the chunked passes of engine/local/attention.py over the same keys (the figures behind "why prefill is at
parity" in bench/RESULTS.md). Shapes of the bench model: 8 query heads, 2 KV heads, head_dim 64, laid out
as the model hands them over (strided). Runnable alone; measures, never asserts.

    .venv/bin/python bench/attention_cpu.py [--tokens 16384] [--chunk 1024] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.local.attention import attend  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    n, heads, kv_heads, dim = args.tokens, 8, 2, 64
    q = torch.randn(1, n, heads, dim).transpose(1, 2)
    k = torch.randn(n, kv_heads, dim).transpose(0, 1)
    v = torch.randn(n, kv_heads, dim).transpose(0, 1)

    def whole() -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k[None], v[None], is_causal=True, enable_gqa=True)

    def chunked() -> torch.Tensor:
        return torch.cat([attend(q[0, :, s:s + args.chunk], k[:, :s + args.chunk], v[:, :s + args.chunk], None)
                          for s in range(0, n, args.chunk)])

    diff = (whole()[0].transpose(0, 1) - chunked()).abs().max().item()
    print(f"{n} tokens, chunk {args.chunk}, {torch.get_num_threads()} threads; max |difference| {diff:.1e}")
    for round_ in range(args.rounds):
        for name, run in (("whole causal (generate)", whole), ("chunked (engine)", chunked)):
            started = time.perf_counter()
            run()
            print(f"  round {round_ + 1}: {name:24s} {time.perf_counter() - started:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

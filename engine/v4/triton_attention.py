"""V4 attention as one fused Triton kernel for CUDA: each query's softmax over its sliding window and its
compressed rows (HCA: all visible, CSA: the indexer's picks) with the head's sink, in one pass with an
online softmax, gathering K = V rows straight from the window buffer and the paged pool.

flash-attn cannot serve V4 (its head size is capped at 256; V4's is 512) and V4's keys are a per-query
gather, not a contiguous range. One program handles one query and a block of heads: all 64 heads read
the same shared-KV rows, so a block of heads amortises each gathered row. The kernel is also checked on
CPU under Triton's interpreter (TRITON_INTERPRET=1) against engine.v4.kernels in the tests; on a GPU,
`available()` compiles and checks it once before the engine trusts it.
"""

from __future__ import annotations

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton ships with the CUDA wheels (and xgrammar's deps)
    triton = None

NAME = "triton"


if triton is not None:

    @triton.jit
    def _attend_rows(q, acc, m, l, rows_ptr, index_ptr, length, stride_row, scale,
                     dims, BLOCK_N: tl.constexpr, IEEE: tl.constexpr):
        for start in range(0, length, BLOCK_N):
            cols = start + tl.arange(0, BLOCK_N)
            index = tl.load(index_ptr + cols, mask=cols < length, other=-1)
            valid = index >= 0
            safe = tl.where(valid, index, 0)
            k = tl.load(rows_ptr + safe[:, None].to(tl.int64) * stride_row + dims[None, :], mask=valid[:, None], other=0.0)
            if IEEE:
                s = tl.dot(q, tl.trans(k), input_precision="ieee") * scale
            else:
                s = tl.dot(q, tl.trans(k)) * scale
            s = tl.where(valid[None, :], s, float("-inf"))
            m_new = tl.maximum(m, tl.max(s, 1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            alpha = tl.exp(m - m_safe)
            p = tl.exp(s - m_safe[:, None])
            l = l * alpha + tl.sum(p, 1)
            if IEEE:
                acc = acc * alpha[:, None] + tl.dot(p.to(k.dtype), k, input_precision="ieee")
            else:
                acc = acc * alpha[:, None] + tl.dot(p.to(k.dtype), k)
            m = m_new
        return acc, m, l

    @triton.jit
    def _v4_attention_kernel(Q, OUT, SINKS, LOCAL, LOCAL_INDEX, POOL, POOL_INDEX,
                             stride_qn, stride_qh, stride_on, stride_oh, stride_local, stride_li, stride_pool, stride_pi,
                             heads, local_length, pool_length, scale,
                             D: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_N: tl.constexpr, IEEE: tl.constexpr):
        n = tl.program_id(0)
        head_block = tl.program_id(1)
        hs = head_block * BLOCK_H + tl.arange(0, BLOCK_H)
        head_ok = hs < heads
        dims = tl.arange(0, D)
        q = tl.load(Q + n * stride_qn + hs[:, None] * stride_qh + dims[None, :], mask=head_ok[:, None], other=0.0)
        m = tl.full([BLOCK_H], float("-inf"), tl.float32)
        l = tl.zeros([BLOCK_H], tl.float32)
        acc = tl.zeros([BLOCK_H, D], tl.float32)
        acc, m, l = _attend_rows(q, acc, m, l, LOCAL, LOCAL_INDEX + n * stride_li, local_length, stride_local, scale,
                                 dims, BLOCK_N, IEEE)
        acc, m, l = _attend_rows(q, acc, m, l, POOL, POOL_INDEX + n * stride_pi, pool_length, stride_pool, scale,
                                 dims, BLOCK_N, IEEE)
        sink = tl.load(SINKS + hs, mask=head_ok, other=0.0).to(tl.float32)
        top = tl.maximum(m, sink)
        l = l * tl.exp(m - top) + tl.exp(sink - top)
        out = acc * tl.exp(m - top)[:, None] / l[:, None]
        tl.store(OUT + n * stride_on + hs[:, None] * stride_oh + dims[None, :], out.to(OUT.dtype.element_ty), mask=head_ok[:, None])


def attention(q: torch.Tensor, local: torch.Tensor, local_index: torch.Tensor, pool: torch.Tensor, pool_index: torch.Tensor,
              sinks: torch.Tensor, *, scale: float) -> torch.Tensor:
    """q [n, H, D]; local [R, D] rows indexed by local_index [n, Ll]; pool [P, D] rows indexed by pool_index [n, Lp]
    (-1 = none). Returns [n, H, D]: one softmax per query and head over every indexed row and the head's sink."""
    n, heads, dim = q.shape
    if dim & (dim - 1) or dim < 16:
        raise ValueError(f"the fused kernel needs a power-of-two head size >= 16, got {dim}")
    q = q.contiguous()
    out = torch.empty_like(q)
    local, pool = local.contiguous(), pool.contiguous()
    local_index = local_index.to(torch.int32).contiguous()
    pool_index = pool_index.to(torch.int32).contiguous()
    if pool_index.shape[1] == 0:
        pool_index = torch.full((n, 1), -1, dtype=torch.int32, device=q.device)
    block_h = 16
    block_n = 16 if dim >= 256 else 32
    grid = (n, triton.cdiv(heads, block_h))
    _v4_attention_kernel[grid](
        q, out, sinks.float().contiguous(), local, local_index, pool, pool_index,
        q.stride(0), q.stride(1), out.stride(0), out.stride(1), local.stride(0), local_index.stride(0),
        pool.stride(0), pool_index.stride(0), heads, local_index.shape[1], pool_index.shape[1], scale,
        D=dim, BLOCK_H=block_h, BLOCK_N=block_n, IEEE=q.dtype == torch.float32,
        **({"num_warps": 8} if q.is_cuda else {}),
    )
    return out


_checked: dict[str, tuple[bool, str]] = {}


def available(device: torch.device) -> tuple[bool, str]:
    """Whether the fused kernel runs and agrees with the PyTorch path on `device` (checked once per device)."""
    key = str(device)
    if key in _checked:
        return _checked[key]
    if triton is None:
        verdict = (False, "triton is not installed")
    elif device.type != "cuda":
        verdict = (False, "the fused kernel is for CUDA devices")
    else:
        try:
            verdict = _self_check(device)
        except Exception as error:  # compilation or launch failure: the PyTorch path serves instead
            verdict = (False, f"{type(error).__name__}: {error}")
    _checked[key] = verdict
    return verdict


def _self_check(device: torch.device) -> tuple[bool, str]:
    from engine.v4 import kernels

    generator = torch.Generator(device="cpu").manual_seed(0)
    heads, dim, n, window = 4, 64, 40, 16
    q = torch.randn(heads, n, dim, generator=generator)
    before = torch.randn(window - 1, dim, generator=generator)
    keys = torch.randn(n, dim, generator=generator)
    sinks = torch.randn(heads, generator=generator)
    expected = kernels.merge_with_sinks([kernels.sliding_attention(q, before, keys, size=window, scale=0.1)], sinks)
    local = torch.cat([before, keys])
    index = sliding_index(n, before.shape[0], window, device=torch.device("cpu"))
    got = attention(q.transpose(0, 1).to(device), local.to(device), index.to(device), local[:1].to(device),
                    torch.full((n, 1), -1, dtype=torch.int32).to(device), sinks.to(device), scale=0.1)
    error = (got.transpose(0, 1).cpu() - expected).abs().max().item()
    return (error < 1e-3, f"self-check max error {error:.1e}")


def sliding_index(n: int, before: int, window: int, *, device) -> torch.Tensor:
    """For query i of a chunk whose local buffer is [`before` earlier keys | the chunk's n keys]: the rows of
    its window (the `window` keys ending at itself), -1 where the window reaches before the buffer."""
    rows = torch.arange(n, device=device).view(-1, 1) + before - (window - 1) + torch.arange(window, device=device).view(1, -1)
    return torch.where(rows >= 0, rows, torch.full_like(rows, -1)).to(torch.int32)

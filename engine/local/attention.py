"""Attention for the paged cache on CPU without a mask: each sequence's queries attend to its own keys, the
earlier ones in one unmasked pass and the new ones in one causal pass, merged by their log-sum-exp. A decode
step (one new token per sequence) reads the keys where they lie in the pages, without copying them out.

Why not transformers' "sdpa" under continuous batching: it builds one float mask of max_batch_tokens x
(whole cache + batch) at start-up and, for every prefill chunk, repeats the KV heads of the whole history to
all query heads and runs a non-causal kernel through that mask. For a whole document that mask and those
copies grow with the prompt (bench/RESULTS.md: 0.54x of `generate`'s prefill speed at 64K tokens).

transformers decides how to batch by the implementation's name: any name containing "flash" gets the varlen
interface (cumulative sequence lengths, no mask). That is the extension point used here; the kernel is torch's
own CPU flash attention, which returns the log-sum-exp the merge needs. Sliding windows, soft-capping and
attention sinks are not handled, so models that use them keep "sdpa" (see `supported`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NAME = "quire_flash_cpu"

_flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def supported(config, device: str) -> bool:
    """Whether this kernel computes the same attention as the model's own for this config and device."""
    if not device.startswith("cpu"):
        return False
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    if getattr(config, "use_sliding_window", False):
        return False
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and any(kind != "full_attention" for kind in layer_types):
        return False
    if layer_types is None and getattr(config, "sliding_window", None) is not None:
        return False
    if getattr(config, "attn_logit_softcapping", None):
        return False
    return True


def register() -> str:
    """Make NAME a valid `attn_implementation` (idempotent); returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, flash_attention_mask

    AttentionInterface.register(NAME, paged_attention_forward)
    # Like flash-attention's: no mask unless there is padding, which `_dense` refuses.
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, flash_attention_mask)
    return NAME


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float | None) -> torch.Tensor:
    """One sequence. query (H, Lq, D), key/value (KH, Lk, D) with Lk >= Lq; the queries are the last Lq
    positions (bottom-right causal alignment). Returns (Lq, H, D)."""
    heads, q_len, dim = query.shape
    kv_heads, k_len, _ = key.shape
    group = heads // kv_heads
    past = k_len - q_len
    q = query.unsqueeze(0)

    if q_len == 1:
        # A decode step sees every key: one unmasked pass, the query heads of each KV head stacked.
        out = _flash(q.reshape(1, kv_heads, group, dim), key.unsqueeze(0), value.unsqueeze(0), scale=scale)[0]
        return out.reshape(heads, 1, dim).transpose(0, 1)

    # The new tokens among themselves: causal (the kernel pairs each query head with its KV head itself).
    out, lse = _flash(q, key[:, past:].unsqueeze(0), value[:, past:].unsqueeze(0), is_causal=True, scale=scale)[:2]
    if past == 0:
        return out[0].transpose(0, 1)

    # The history: every query sees all of it, so the query heads sharing a KV head are stacked into one
    # longer query: the kernel then reads each history block once for the whole group.
    grouped = q.reshape(1, kv_heads, group * q_len, dim)
    old_out, old_lse = _flash(grouped, key[:, :past].unsqueeze(0), value[:, :past].unsqueeze(0), scale=scale)[:2]
    old_out = old_out.reshape(1, heads, q_len, dim)
    old_lse = old_lse.reshape(1, heads, q_len)

    # Softmax over both parts: the new part's share of the total mass is sigmoid(lse - old_lse), and one fused
    # lerp blends the two outputs by it.
    share = torch.sigmoid(lse - old_lse).unsqueeze(-1)
    return torch.lerp(old_out, out, share)[0].transpose(0, 1).to(query.dtype)


def paged_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None,
                            sliding_window=None, softcap=None, s_aux=None, cache=None, **kwargs):
    """The AttentionInterface signature. Returns ((batch, Lq, H, D), None) like transformers' kernels."""
    from transformers.generation.continuous_batching import PagedAttentionCache

    if sliding_window is not None or softcap is not None or s_aux is not None:
        raise NotImplementedError(f"{NAME} has no sliding window, soft-capping or attention sinks; load with sdpa.")
    if isinstance(cache, PagedAttentionCache):
        bounds_q = kwargs["cu_seq_lens_q"].tolist()
        if bounds_q[-1] == query.shape[2] == len(bounds_q) - 1:  # every sequence brings one token: decode
            return _decode_in_place(query, key, value, module.layer_idx, cache, kwargs, bounds_q, scaling), None
        key, value = cache.update(key_states=key, value_states=value, layer_idx=module.layer_idx, kwargs=kwargs)
        return _varlen(query, key, value, kwargs["cu_seq_lens_q"], kwargs["cu_seq_lens_k"], scaling), None
    return _dense(query, key, value, attention_mask, scaling), None


def _varlen(query, key, value, cu_q, cu_k, scale) -> torch.Tensor:
    """Packed sequences (batch 1): sequence i owns queries cu_q[i]:cu_q[i+1] and keys cu_k[i]:cu_k[i+1].
    Rows past the last sequence are padding and stay zero."""
    _, heads, total_q, dim = query.shape
    bounds_q = cu_q.tolist()
    bounds_k = cu_k.tolist()
    if len(bounds_q) == 2 and bounds_q[1] == total_q:  # one sequence fills the batch: no output copy
        return attend(query[0], key[0, :, bounds_k[0]:bounds_k[1]], value[0, :, bounds_k[0]:bounds_k[1]], scale)[None]
    out = query.new_zeros(1, total_q, heads, dim)
    for i in range(len(bounds_q) - 1):
        q0, q1, k0, k1 = bounds_q[i], bounds_q[i + 1], bounds_k[i], bounds_k[i + 1]
        if q1 > q0:
            out[0, q0:q1] = attend(query[0, :, q0:q1], key[0, :, k0:k1], value[0, :, k0:k1], scale)
    return out


def _decode_in_place(query, key, value, layer_idx, cache, kwargs, bounds_q, scale) -> torch.Tensor:
    """A decode step reads each sequence's keys where they lie in the pages instead of copying its whole
    history out first: the library's index path gathers every cached token of every layer on every step,
    which at 16K tokens cost as much as the attention itself (bench/RESULTS.md). The new tokens are written
    by the library's own update, given an empty read index (its write-only path)."""
    allocator = cache.layer_to_allocator[layer_idx]
    write_only = {**kwargs, "read_index": [index[:0] for index in kwargs["read_index"]]}
    cache.update(key_states=key, value_states=value, layer_idx=layer_idx, kwargs=write_only)
    # The layer's pages, (pages, page_size, KH, D): what transformers hands a block-table kernel.
    k_pages, v_pages = allocator.get_cache_for_block_table(layer_idx)
    plans = _step_plans(kwargs["read_index"], allocator.index, write_only["cu_seq_lens_k"], k_pages.shape[1])
    _, heads, total_q, dim = query.shape
    out = query.new_empty(1, total_q, heads, dim)
    for i, pages in enumerate(plans):
        out[0, i] = attend_pages(query[0, :, i], k_pages, v_pages, pages, scale)
    return out


@dataclass(frozen=True)
class SequencePages:
    """Where one sequence's keys lie, page by page, in a layer's page view (every layer alike)."""

    length: int  # tokens
    runs: list[tuple[int, int, int]]  # (first, step, count): full pages read in place as one strided view each
    tail: tuple[int, int] | None  # (page, tokens) of the partly written last page
    scattered: torch.Tensor | None  # page indices to copy out instead, when the runs are too many


_MAX_RUNS = 16


def plan_pages(rows: torch.Tensor, page_size: int) -> SequencePages:
    """From the token rows the library would gather (page p holds rows p*page_size...)."""
    length = rows.shape[0]
    firsts = (rows[::page_size] // page_size).tolist()
    full = length // page_size
    runs = _even_runs(firsts[:full])
    tail = (firsts[full], length - full * page_size) if length > full * page_size else None
    if len(runs) > _MAX_RUNS:  # scattered pages: one copy of just those pages beats many small calls
        return SequencePages(length, [], None, torch.tensor(firsts, device=rows.device))
    return SequencePages(length, runs, tail, None)


_last_step: tuple[object, list[SequencePages]] | None = None


def _step_plans(read_index: list, allocator_index: int, cu_k: torch.Tensor, page_size: int) -> list[SequencePages]:
    """Every layer of a step reads the same pages: plan them once per step. The step's list of read indices
    is the key, held here so that its identity cannot be reused by a later step's list."""
    global _last_step
    last = _last_step
    if last is not None and last[0] is read_index:
        return last[1]
    rows, bounds = read_index[allocator_index], cu_k.tolist()
    plans = [plan_pages(rows[bounds[i]:bounds[i + 1]], page_size) for i in range(len(bounds) - 1)]
    _last_step = (read_index, plans)
    return plans


def attend_pages(query: torch.Tensor, k_pages: torch.Tensor, v_pages: torch.Tensor, pages: SequencePages,
                 scale: float | None) -> torch.Tensor:
    """One query token (H, D) over one sequence's keys in the pages. Each even run of pages is one strided
    view, each page a batch row of one flash call; the per-page results are merged by their log-sum-exp.
    Returns (H, D)."""
    heads, dim = query.shape
    kv_heads = k_pages.shape[2]
    q = query.reshape(1, kv_heads, heads // kv_heads, dim)
    if pages.scattered is not None:
        keys = k_pages.index_select(0, pages.scattered).flatten(0, 1)[:pages.length].transpose(0, 1)
        values = v_pages.index_select(0, pages.scattered).flatten(0, 1)[:pages.length].transpose(0, 1)
        return _flash(q, keys[None], values[None], scale=scale)[0].reshape(heads, dim)
    parts = []
    for first, step, count in pages.runs:
        run = slice(first, first + step * (count - 1) + 1, step)
        keys = k_pages[run].transpose(1, 2)  # (count, KH, page_size, D), a view
        values = v_pages[run].transpose(1, 2)
        parts.append(_flash(q.expand(count, -1, -1, -1), keys, values, scale=scale)[:2])
    if pages.tail is not None:
        page, tokens = pages.tail
        keys = k_pages[page, :tokens].transpose(0, 1)[None]
        values = v_pages[page, :tokens].transpose(0, 1)[None]
        parts.append(_flash(q, keys, values, scale=scale)[:2])
    if len(parts) == 1 and parts[0][0].shape[0] == 1:
        return parts[0][0].reshape(heads, dim)
    outs = torch.cat([o for o, _ in parts])  # (pages, KH, G, D)
    lses = torch.cat([lse for _, lse in parts])  # (pages, KH, G)
    weights = torch.softmax(lses, dim=0).unsqueeze(-1)
    return (weights * outs).sum(0).reshape(heads, dim).to(query.dtype)


def _even_runs(indices: list[int]) -> list[tuple[int, int, int]]:
    """(first, step, count) runs of evenly stepping page indices, each as an ascending slice. The cache's
    pool hands out blocks from the top down, so a sequence's pages usually descend; attention does not
    depend on the order of its keys, so a descending run is read as the same pages ascending."""
    runs = []
    i = 0
    while i < len(indices):
        j, step = i + 1, 1
        if j < len(indices) and indices[j] != indices[i]:
            step = indices[j] - indices[i]
            while j < len(indices) and indices[j] - indices[j - 1] == step:
                j += 1
        count = j - i
        first = indices[i] if step > 0 else indices[i] + step * (count - 1)
        runs.append((first, abs(step), count))
        i = j
    return runs


def _dense(query, key, value, attention_mask, scale) -> torch.Tensor:
    """Outside the batch (model.generate, one unpadded sequence per row)."""
    if attention_mask is not None:
        raise NotImplementedError(f"{NAME} does not take padded batches; load the model with sdpa for those.")
    return torch.stack([attend(query[b], key[b], value[b], scale) for b in range(query.shape[0])])

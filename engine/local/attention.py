"""Attention for the paged cache on CPU without a mask: each sequence's queries attend to its own keys, the
earlier ones in one unmasked pass and the new ones in one causal pass, merged by their log-sum-exp.

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


def _dense(query, key, value, attention_mask, scale) -> torch.Tensor:
    """Outside the batch (model.generate, one unpadded sequence per row)."""
    if attention_mask is not None:
        raise NotImplementedError(f"{NAME} does not take padded batches; load the model with sdpa for those.")
    return torch.stack([attend(query[b], key[b], value[b], scale) for b in range(query.shape[0])])

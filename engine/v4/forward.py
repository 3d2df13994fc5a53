"""A chunk of tokens through a transformers `DeepseekV4ForCausalLM`, against a paged SequenceCache.

Everything but attention and cache is the model's own modules, called as its decoder layer calls them
(hyper-connections, norms, projections, MoE, head), so a real checkpoint's weights, dtypes and
`device_map` placement apply unchanged. Attention is rebuilt from the same parameters: the compressors
pool into paged rows with the same window arithmetic as `DeepseekV4HCACompressor` /
`DeepseekV4CSACompressor`, the indexer ranks tile by tile, and the three score sets meet in one exact
softmax with the sinks (engine.v4.kernels). transformers' path instead attends a chunk against the
whole history with a dense mask, which is what makes its prefill quadratic.
"""

from __future__ import annotations

import torch
from transformers.models.deepseek_v4.modeling_deepseek_v4 import apply_rotary_pos_emb

from engine.v4 import kernels
from engine.v4.cache import CSA, HCA, SequenceCache, StreamState

TORCH = "torch"  # engine.v4.kernels, any device
TRITON = "triton"  # engine.v4.triton_attention, CUDA


def choose_backend(device: torch.device) -> tuple[str, str]:
    """The fused Triton kernel where it compiles and agrees with the PyTorch path, else PyTorch; and why."""
    from engine.v4 import triton_attention

    ok, why = triton_attention.available(device)
    return (TRITON, why) if ok else (TORCH, why)


def _compress(module, hidden: torch.Tensor, stream: StreamState, *, overlapping: bool, head_dim: int) -> None:
    """Pool every complete window of `stream.rate` tokens into one row and append it (rope at its window start)."""
    kv = module.kv_proj(hidden)
    gate = module.gate_proj(hidden)
    first_window_position = stream.rows.rows * stream.rate
    if stream.buffer_kv.shape[0]:
        kv = torch.cat([stream.buffer_kv, kv])
        gate = torch.cat([stream.buffer_gate, gate])
    rate = stream.rate
    usable = (kv.shape[0] // rate) * rate
    stream.buffer_kv, stream.buffer_gate = kv[usable:].clone(), gate[usable:].clone()
    if usable == 0:
        return
    windows = usable // rate
    chunk_kv = kv[:usable].view(windows, rate, -1)
    chunk_gate = gate[:usable].view(windows, rate, -1) + module.position_bias
    if overlapping:
        # Row w pools window w-1's first half with window w's second half (transformers' Ca / Cb layout).
        pooled_kv = chunk_kv.new_zeros((windows, 2 * rate, head_dim))
        pooled_gate = chunk_gate.new_full((windows, 2 * rate, head_dim), float("-inf"))
        pooled_kv[:, rate:] = chunk_kv[..., head_dim:]
        pooled_gate[:, rate:] = chunk_gate[..., head_dim:]
        if windows > 1:
            pooled_kv[1:, :rate] = chunk_kv[:-1, :, :head_dim]
            pooled_gate[1:, :rate] = chunk_gate[:-1, :, :head_dim]
        if stream.overlap_kv is not None:
            pooled_kv[0, :rate] = stream.overlap_kv.to(pooled_kv.dtype)
            pooled_gate[0, :rate] = stream.overlap_gate.to(pooled_gate.dtype)
        stream.overlap_kv = chunk_kv[-1, :, :head_dim].clone()
        stream.overlap_gate = chunk_gate[-1, :, :head_dim].clone()
        chunk_kv, chunk_gate = pooled_kv, pooled_gate
    compressed = module.kv_norm((chunk_kv * chunk_gate.softmax(dim=1, dtype=torch.float32).to(chunk_kv.dtype)).sum(dim=1))
    positions = (torch.arange(windows, device=compressed.device) * rate + first_window_position).unsqueeze(0)
    cos, sin = module.rotary_emb(compressed, position_ids=positions, layer_type="compress")
    compressed = apply_rotary_pos_emb(compressed.unsqueeze(0).unsqueeze(0), cos, sin)[0, 0]
    stream.rows.append(compressed)


def _indexer_pick(indexer, hidden: torch.Tensor, q_residual: torch.Tensor, positions: torch.Tensor,
                  stream: StreamState, visible: torch.Tensor, tile_rows: int) -> torch.Tensor:
    n = hidden.shape[0]
    cos, sin = indexer.rotary_emb(hidden, position_ids=positions.unsqueeze(0), layer_type="compress")
    q = indexer.q_b_proj(q_residual).view(1, n, -1, indexer.head_dim).transpose(1, 2)
    q = apply_rotary_pos_emb(q, cos, sin).transpose(1, 2)[0].float()  # [n, Hi, di]
    weights = indexer.scorer.weights_proj(hidden).float() * indexer.scorer.weights_scaling
    return kernels.indexer_top_k(q, weights, stream.rows.read, stream.rows.rows, visible, k=indexer.index_topk,
                                 softmax_scale=indexer.scorer.softmax_scale, tile_rows=tile_rows)


def attention(attn, hidden: torch.Tensor, positions: torch.Tensor, rope: dict, state, *, tile_rows: int = 4096,
              backend: str = TORCH) -> torch.Tensor:
    """DeepseekV4Attention.forward for one sequence: hidden [1, n, D] -> [1, n, D], the cache advanced by n."""
    n = hidden.shape[1]
    cos, sin = rope[attn.rope_layer_type]
    q_residual = attn.q_a_norm(attn.q_a_proj(hidden))
    q = attn.q_b_norm(attn.q_b_proj(q_residual).view(1, n, -1, attn.head_dim).transpose(1, 2))
    q = apply_rotary_pos_emb(q, cos, sin)[0]  # [H, n, d]
    kv = attn.kv_norm(attn.kv_proj(hidden)).view(1, n, -1, attn.head_dim).transpose(1, 2)
    kv = apply_rotary_pos_emb(kv, cos, sin)[0, 0]  # [n, d]: one head, read as key and value

    window = state.window
    state.window = torch.cat([window, kv])[-(attn.sliding_window - 1):].clone()

    x = hidden[0]
    visible = picked = None
    if state.kind in (CSA, HCA):
        compressor = attn.compressor
        rate = state.kv.rate
        _compress(compressor, x, state.kv, overlapping=state.kind == CSA, head_dim=attn.head_dim)
        visible = (positions + 1) // rate  # query t sees rows of windows that closed by t
        if state.kind == CSA:
            indexer = compressor.indexer
            _compress(indexer, x, state.index, overlapping=True, head_dim=indexer.head_dim)
            picked = _indexer_pick(indexer, x, q_residual[0], positions, state.index, visible, tile_rows)

    if backend == TRITON:
        out = _fused(attn, q, window, kv, state, visible, picked).unsqueeze(0)
    else:
        parts = [kernels.sliding_attention(q, window, kv, size=attn.sliding_window, scale=attn.scaling)]
        if state.kind == HCA:
            rows = state.kv.rows.read(0, state.kv.rows.rows)
            parts.append(kernels.dense_compressed_attention(q, rows, visible, scale=attn.scaling))
        elif state.kind == CSA:
            parts.append(kernels.sparse_compressed_attention(q, state.kv.rows.gather, picked, scale=attn.scaling))
        out = kernels.merge_with_sinks(parts, attn.sinks).unsqueeze(0)  # [1, H, n, d]
    # V = K carried rope on its rope slice; undo it at the query position, as transformers does.
    out = apply_rotary_pos_emb(out, cos, -sin)
    out = out.transpose(1, 2).reshape(1, n, attn.config.o_groups, -1)
    return attn.o_b_proj(attn.o_a_proj(out).flatten(2))


def _fused(attn, q: torch.Tensor, window: torch.Tensor, kv: torch.Tensor, state, visible, picked) -> torch.Tensor:
    """The Triton path: row ids for each query's window (in [window | chunk]) and compressed rows (in the pool)."""
    from engine.v4 import triton_attention

    n = kv.shape[0]
    local_index = triton_attention.sliding_index(n, window.shape[0], attn.sliding_window, device=kv.device)
    pool = None
    pool_index = torch.full((n, 0), -1, dtype=torch.long, device=kv.device)
    if state.kind in (CSA, HCA):
        rows = state.kv.rows
        pool = rows.pool.storage.view(-1, rows.pool.width)
        if state.kind == HCA:
            logical = torch.arange(rows.rows, device=kv.device).view(1, -1).expand(n, -1)
            logical = torch.where(logical < visible.view(-1, 1), logical, torch.full_like(logical, -1))
        else:
            logical = picked
        pool_index = torch.where(logical >= 0, rows.physical(logical.clamp(min=0)), torch.full_like(logical, -1))
    out = triton_attention.attention(q.transpose(0, 1), torch.cat([window, kv]), local_index,
                                     pool if pool is not None else kv[:1], pool_index, attn.sinks, scale=attn.scaling)
    return out.transpose(0, 1)  # [H, n, d]


@torch.no_grad()
def forward(model, ids: list[int] | torch.Tensor, cache: SequenceCache, *, all_logits: bool = False,
            tile_rows: int = 4096, backend: str = TORCH) -> torch.Tensor:
    """Run `ids` (one chunk, continuing `cache`) and return logits [n, V] or, by default, the last row's [1, V]."""
    inner = model.model
    first_device = inner.embed_tokens.weight.device
    ids = torch.as_tensor(ids, dtype=torch.long, device=first_device).view(1, -1)
    n = ids.shape[1]
    positions = torch.arange(cache.length, cache.length + n, device=first_device)
    embeds = inner.embed_tokens(ids)
    hidden = embeds.unsqueeze(2).expand(-1, -1, model.config.hc_mult, -1).contiguous()
    rope_cache: dict[torch.device, dict] = {}

    for layer, state in zip(inner.layers, cache.layers):
        device = state.window.device
        hidden = hidden.to(device)
        if device not in rope_cache:
            pos = positions.to(device).unsqueeze(0)
            rope_cache[device] = {
                "main": inner.rotary_emb(embeds.to(device), position_ids=pos, layer_type="main"),
                "compress": inner.rotary_emb(embeds.to(device), position_ids=pos, layer_type="compress"),
            }
        dtype = hidden.dtype
        post, comb, collapsed = layer.attn_hc(hidden)
        attn_out = attention(layer.self_attn, layer.input_layernorm(collapsed), positions.to(device), rope_cache[device], state,
                             tile_rows=tile_rows, backend=backend)
        hidden = post.to(dtype).unsqueeze(-1) * attn_out.unsqueeze(-2) + torch.matmul(comb.to(dtype).transpose(-1, -2), hidden)
        post, comb, collapsed = layer.ffn_hc(hidden)
        mlp_out = layer.mlp(layer.post_attention_layernorm(collapsed), input_ids=ids.to(device))
        hidden = post.to(dtype).unsqueeze(-1) * mlp_out.unsqueeze(-2) + torch.matmul(comb.to(dtype).transpose(-1, -2), hidden)

    if not all_logits:
        hidden = hidden[:, -1:]
    head_device = model.lm_head.weight.device
    hidden = inner.norm(inner.hc_head(hidden.to(head_device)))
    cache.length += n
    cache.token_ids.extend(ids[0].tolist())
    return model.lm_head(hidden)[0]

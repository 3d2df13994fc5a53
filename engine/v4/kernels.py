"""V4 attention pieces in plain PyTorch ops, each bounded in memory by the chunk, never by the prompt.

Attention for a query is one softmax over three sets of logits: its sliding window, its compressed rows
(all visible ones on HCA layers, the indexer's top-k on CSA layers) and its head's sink. Each part here
returns its normalised output and its log-sum-exp; `merge_with_sinks` combines them exactly, which is
the same softmax transformers' eager path takes over the concatenated keys.

The indexer's top-k is taken tile by tile over the compressed keys with a running best-k, so no
queries x all-rows matrix exists. Equal scores are common (ReLU makes a key score exactly 0 for a query
whenever every indexer head's dot product is negative), and torch.topk's choice among equal values
depends on the row's length: so scores are ranked by a 64-bit key of (score, lower row first), which
picks the same rows whatever the chunk or tile size.
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")
_LOW32 = 0xFFFFFFFF


def sliding_attention(q: torch.Tensor, window: torch.Tensor, keys: torch.Tensor, *, size: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """q [H, n, d] for n consecutive positions; window [r, d]: the r <= size-1 keys just before them;
    keys [n, d]: the chunk's own. Query i sees the `size` keys ending at itself. Returns out [H, n, d], lse [H, n].

    Queries go in blocks of `size`; a block reads `2 * size - 1` keys, so the work is n x 2*size, not n x n.
    """
    heads, n, dim = q.shape
    r = window.shape[0]
    block = min(size, n)
    blocks = -(-n // block)
    padded = blocks * block
    lead = size - 1 - r
    span = block + size - 1
    all_keys = torch.cat([keys.new_zeros(lead, dim), window, keys, keys.new_zeros(padded - n, dim)])
    key_blocks = all_keys.unfold(0, span, block).transpose(1, 2)  # [blocks, span, d]
    q_blocks = torch.nn.functional.pad(q, (0, 0, 0, padded - n)).view(heads, blocks, block, dim)
    logits = torch.einsum("hbid,bjd->hbij", q_blocks, key_blocks) * scale
    i = torch.arange(block, device=q.device).view(block, 1)
    j = torch.arange(span, device=q.device).view(1, span)
    visible = (j >= i) & (j <= i + size - 1)  # the window ends at the query itself
    visible = visible.view(1, block, span) & (torch.arange(blocks, device=q.device).view(-1, 1, 1) * block + j >= lead)
    logits = logits.masked_fill(~visible, NEG_INF)
    lse = torch.logsumexp(logits, dim=-1)
    out = torch.einsum("hbij,bjd->hbid", torch.exp(logits - lse.unsqueeze(-1)), key_blocks)
    return out.reshape(heads, padded, dim)[:, :n], lse.reshape(heads, padded)[:, :n]


def _softmax_parts(logits: torch.Tensor, values_fn) -> tuple[torch.Tensor, torch.Tensor]:
    lse = torch.logsumexp(logits, dim=-1)
    probs = torch.exp(logits - lse.unsqueeze(-1))
    probs = torch.nan_to_num(probs, nan=0.0)  # a query that sees no row: lse -inf, no weight anywhere
    return values_fn(probs), lse


def dense_compressed_attention(q: torch.Tensor, rows: torch.Tensor, visible_rows: torch.Tensor, *, scale: float,
                               tile_elements: int = 1 << 24) -> tuple[torch.Tensor, torch.Tensor]:
    """q [H, n, d] against every compressed row [T, d]; query i sees rows below visible_rows[i] (HCA).

    On CPU the rows every query of the chunk sees go through torch's flash kernel in one unmasked pass (all
    heads stacked into one long query, as the single KV head allows); only the few rows that close inside
    the chunk need a mask. That split is several times faster than scores-softmax-values at long contexts.
    """
    everyone = int(visible_rows.min()) if visible_rows.numel() else 0
    if q.device.type != "cpu" or everyone == 0:
        return _masked_rows(q, rows, visible_rows, scale=scale, tile_elements=tile_elements)
    heads, n, dim = q.shape
    shared = rows[:everyone].view(1, 1, everyone, dim)
    out, lse = _FLASH_CPU(q.reshape(1, 1, heads * n, dim), shared, shared, scale=scale)[:2]
    out, lse = out.reshape(heads, n, dim), lse.reshape(heads, n)
    if rows.shape[0] == everyone:
        return out, lse
    tail_out, tail_lse = _masked_rows(q, rows[everyone:], visible_rows - everyone, scale=scale, tile_elements=tile_elements)
    total = torch.logaddexp(lse, tail_lse)
    return torch.exp(lse - total).unsqueeze(-1) * out + torch.exp(tail_lse - total).unsqueeze(-1) * tail_out, total


_FLASH_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def _masked_rows(q: torch.Tensor, rows: torch.Tensor, visible_rows: torch.Tensor, *, scale: float,
                 tile_elements: int) -> tuple[torch.Tensor, torch.Tensor]:
    heads, n, _ = q.shape
    total = rows.shape[0]
    step = max(1, tile_elements // max(1, heads * total))
    outs, lses = [], []
    columns = torch.arange(total, device=q.device)
    for start in range(0, n, step):
        qt = q[:, start:start + step]
        logits = torch.matmul(qt, rows.transpose(0, 1)) * scale  # [H, t, T]
        hidden = columns.view(1, -1) >= visible_rows[start:start + step].view(-1, 1)
        logits = logits.masked_fill(hidden.unsqueeze(0), NEG_INF)
        out, lse = _softmax_parts(logits, lambda p: torch.matmul(p, rows))
        outs.append(out)
        lses.append(lse)
    return torch.cat(outs, dim=1), torch.cat(lses, dim=1)


def sparse_compressed_attention(q: torch.Tensor, gather, picked: torch.Tensor, *, scale: float,
                                tile_elements: int = 1 << 24) -> tuple[torch.Tensor, torch.Tensor]:
    """q [H, n, d] against the rows each query picked: picked [n, k] logical row ids, -1 for none (CSA).
    `gather(index)` returns the rows at `index` with a trailing head_dim."""
    heads, n, dim = q.shape
    k = picked.shape[1]
    step = max(1, tile_elements // max(1, k * dim))
    outs, lses = [], []
    for start in range(0, n, step):
        ids = picked[start:start + step]
        rows = gather(ids.clamp(min=0))  # [t, k, d]
        logits = torch.einsum("htd,tkd->htk", q[:, start:start + step], rows) * scale
        logits = logits.masked_fill((ids < 0).unsqueeze(0), NEG_INF)
        out, lse = _softmax_parts(logits, lambda p: torch.einsum("htk,tkd->htd", p, rows))
        outs.append(out)
        lses.append(lse)
    return torch.cat(outs, dim=1), torch.cat(lses, dim=1)


def merge_with_sinks(parts: list[tuple[torch.Tensor, torch.Tensor]], sinks: torch.Tensor) -> torch.Tensor:
    """One softmax over every part's keys plus a per-head sink logit (which carries no value)."""
    lses = torch.stack([lse for _, lse in parts])  # [P, H, n]
    sink = sinks.to(lses.dtype).view(1, -1, 1).expand(1, lses.shape[1], lses.shape[2])
    total = torch.logsumexp(torch.cat([lses, sink]), dim=0)  # [H, n]
    out = None
    for part_out, lse in parts:
        weighted = torch.exp(lse - total).unsqueeze(-1) * part_out
        out = weighted if out is None else out + weighted
    return out


def _rank_keys(scores: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """int64 keys ordered as (score descending, column ascending): ties broken the same at any tiling."""
    scores = scores.float() + 0.0  # -0.0 becomes +0.0, so the two zeros rank equal
    bits = scores.view(torch.int32)
    ordered = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits).to(torch.int64)
    return (ordered << 32) | (_LOW32 - columns)


def _columns_of(keys: torch.Tensor) -> torch.Tensor:
    return _LOW32 - (keys & _LOW32)


def _canonical_top_k(scores: torch.Tensor, columns: torch.Tensor, k: int) -> torch.Tensor:
    """Rank keys of the k best (score, lower column first) in each row of scores [n, t] with columns [n or 1, t].

    torch.topk on the floats does the work; only rows where the k-th score is tied with an unpicked one
    (its choice among equals is arbitrary) are ranked again by exact keys.
    """
    k = min(k, scores.shape[1])
    values, where = scores.topk(k, dim=1)
    picked_columns = torch.gather(columns.expand(scores.shape[0], -1), 1, where)
    keys = _rank_keys(values, picked_columns)
    if k < scores.shape[1]:
        tied = (scores >= values[:, -1:]).sum(dim=1) > k
        if bool(tied.any()):
            rows = tied.nonzero().view(-1)
            exact = _rank_keys(scores[rows], columns.expand(scores.shape[0], -1)[rows]).topk(k, dim=1).values
            keys[rows] = exact
    return keys


def indexer_top_k(q: torch.Tensor, weights: torch.Tensor, read_keys, total: int, visible_rows: torch.Tensor, *,
                  k: int, softmax_scale: float, tile_rows: int = 4096, tile_queries: int = 512) -> torch.Tensor:
    """The Lightning indexer's pick per query: the k visible rows of highest sum_h w_h * relu(q_h . key).

    q [n, Hi, di] (float32), weights [n, Hi]; read_keys(start, end) gives key rows [end-start, di].
    Returns [n, min(k, total)] row ids, -1 where a query has fewer than k visible rows. Scores exist only
    for one tile of queries x rows at a time (their write, ReLU and head sum are memory-bound, so a tile
    that stays in cache is what makes this fast).
    """
    n = q.shape[0]
    width = min(k, total)
    limit = min(total, int(visible_rows.max())) if n else 0
    key_tiles = [read_keys(start, min(start + tile_rows, limit)).float() for start in range(0, limit, tile_rows)]
    picks = []
    for first in range(0, n, tile_queries):
        last = min(first + tile_queries, n)
        pick = _pick_for_queries(q[first:last], weights[first:last], key_tiles, tile_rows, visible_rows[first:last],
                                 k=k, softmax_scale=softmax_scale)
        if pick.shape[1] < width:  # rows past these queries' view were never scored
            pick = torch.cat([pick, pick.new_full((last - first, width - pick.shape[1]), -1)], dim=1)
        picks.append(pick)
    if not picks:
        return torch.full((n, width), -1, dtype=torch.long, device=q.device)
    return torch.cat(picks)


def _pick_for_queries(q, weights, key_tiles, tile_rows, visible_rows, *, k, softmax_scale):
    n, heads, dim = q.shape
    flat_q = q.reshape(n * heads, dim)
    # relu(x) * scale * w == relu(x) * (scale * w): the scale rides on the per-head weights.
    scaled_weights = (weights * softmax_scale).view(n, 1, heads)
    limit, floor = int(visible_rows.max()), int(visible_rows.min())
    best: torch.Tensor | None = None
    for number, keys in enumerate(key_tiles):
        start = number * tile_rows
        if start >= limit:
            break
        end = start + keys.shape[0]
        scores = torch.mm(flat_q, keys.transpose(0, 1)).relu_().view(n, heads, end - start)
        scores = torch.bmm(scaled_weights, scores).view(n, end - start)  # the head sum, in one pass
        columns = torch.arange(start, end, device=q.device).view(1, -1)
        if end > floor:
            scores = scores.masked_fill(columns >= visible_rows.view(-1, 1), NEG_INF)
        tile_best = _canonical_top_k(scores, columns, k)
        if best is None:
            best = tile_best
        else:
            merged = torch.cat([best, tile_best], dim=1)
            best = merged.topk(min(k, merged.shape[1]), dim=1).values
    if best is None:
        return torch.full((n, 0), -1, dtype=torch.long, device=q.device)
    picked = _columns_of(best)
    return torch.where(picked >= visible_rows.view(-1, 1), torch.full_like(picked, -1), picked)

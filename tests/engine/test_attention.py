"""The mask-free CPU attention (engine/local/attention.py) against torch's plain masked sdpa, and its use by
the engine: the batch must then build no mask."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.local import attention


def reference(query, key, value):
    """(H, Lq, D) queries as the last Lq positions of (KH, Lk, D) keys, through an explicit boolean mask."""
    heads, q_len, _ = query.shape
    kv_heads, k_len, _ = key.shape
    past = k_len - q_len
    allowed = torch.arange(k_len)[None, :] <= (past + torch.arange(q_len))[:, None]
    group = heads // kv_heads
    out = F.scaled_dot_product_attention(
        query, key.repeat_interleave(group, 0), value.repeat_interleave(group, 0), attn_mask=allowed
    )
    return out.transpose(0, 1)


@pytest.mark.parametrize(
    ("heads", "kv_heads", "q_len", "k_len"),
    [(8, 2, 37, 37), (8, 2, 37, 300), (8, 2, 1, 300), (4, 4, 64, 65), (6, 1, 129, 1000)],
    ids=["prefill", "chunk-after-history", "decode", "no-gqa", "mqa"],
)
def test_attend_equals_masked_sdpa(heads, kv_heads, q_len, k_len):
    torch.manual_seed(0)
    query = torch.randn(heads, q_len, 32)
    key = torch.randn(kv_heads, k_len, 32)
    value = torch.randn(kv_heads, k_len, 32)
    got = attention.attend(query, key, value, scale=None)
    assert got.shape == (q_len, heads, 32)
    torch.testing.assert_close(got, reference(query, key, value), atol=2e-5, rtol=1e-4)


def test_packed_sequences_attend_only_to_their_own_keys_and_padding_stays_zero():
    torch.manual_seed(1)
    # Sequence A: 5 new tokens after 20 cached; sequence B: a 1-token decode step over 9 keys; 2 padding rows.
    q_lens, k_lens = (5, 1), (25, 9)
    query = torch.randn(1, 4, sum(q_lens) + 2, 16)
    key = torch.randn(1, 2, sum(k_lens), 16)
    value = torch.randn(1, 2, sum(k_lens), 16)
    cu_q = torch.tensor([0, 5, 6])
    cu_k = torch.tensor([0, 25, 34])
    out = attention._varlen(query, key, value, cu_q, cu_k, None)
    assert out.shape == (1, 8, 4, 16)
    torch.testing.assert_close(out[0, :5], reference(query[0, :, :5], key[0, :, :25], value[0, :, :25]))
    torch.testing.assert_close(out[0, 5:6], reference(query[0, :, 5:6], key[0, :, 25:], value[0, :, 25:]))
    assert torch.count_nonzero(out[0, 6:]) == 0


def test_sliding_window_models_keep_sdpa():
    from transformers import Qwen2Config

    assert attention.supported(Qwen2Config(use_sliding_window=False), "cpu")
    assert not attention.supported(Qwen2Config(use_sliding_window=True, max_window_layers=0), "cpu")
    assert not attention.supported(Qwen2Config(), "cuda")


def test_engine_on_cpu_uses_it_and_the_batch_builds_no_mask(tiny_dirs, monkeypatch):
    from engine.api import GenerationRequest
    from engine.local import LocalEngine

    decode_reads = []
    attend_pages = attention.attend_pages
    monkeypatch.setattr(attention, "attend_pages", lambda *args, **kw: decode_reads.append(1) or attend_pages(*args, **kw))
    with LocalEngine.from_pretrained(tiny_dirs["llama"], memory_budget_bytes=64 << 20) as engine:
        assert engine.model.config._attn_implementation == attention.NAME
        result = engine.generate(GenerationRequest(prompt="The lessee shall pay rent " * 20, max_tokens=4))
        assert result.generated_tokens == 4
        # The three decode steps after the first token read their pages in place, in every layer.
        assert len(decode_reads) == 3 * engine.model.config.num_hidden_layers
        processor = engine._batch.manager.batch_processor
        assert processor.inputs_and_outputs.attention_mask is None  # sdpa would hold max_batch_tokens x cache here
        config = engine.model.config
        head_dim = config.hidden_size // config.num_attention_heads
        # The plan counts only the KV read back per cached token: no mask row, no KV repeated per query head.
        assert engine.plan.overhead_bytes_per_token == 2 * config.num_key_value_heads * head_dim * 4


@pytest.mark.parametrize(
    ("pages", "length", "copies"),
    [
        (list(range(2, 2 + 4 * 7, 4)), 7 * 16, False),  # consecutive blocks of one layer (interleaved layers: step 4)
        (list(range(26, 1, -4)), 6 * 16 + 5, False),  # handed out top down, the last page partly written
        ([9], 3, False),  # shorter than a page
        ([0, 4, 8, 21, 22, 23, 7], 7 * 16, False),  # shared-prefix pages, then fresh ones elsewhere
        ([(37 * i) % 64 for i in range(40)], 39 * 16 + 1, True),  # no even runs worth a call each: one copy
    ],
    ids=["even", "descending-tail", "one-partial-page", "mixed-runs", "scattered"],
)
def test_decode_reads_pages_in_place_like_the_gathered_history(pages, length, copies):
    torch.manual_seed(2)
    page_size, kv_heads, heads, dim = 16, 2, 8, 32
    k_pages = torch.randn(64, page_size, kv_heads, dim)
    v_pages = torch.randn(64, page_size, kv_heads, dim)
    rows = torch.cat([torch.arange(p * page_size, (p + 1) * page_size) for p in pages])[:length]
    assert (attention.plan_pages(rows, page_size).scattered is not None) == copies
    query = torch.randn(heads, dim)
    got = attention.attend_pages(query, k_pages, v_pages, attention.plan_pages(rows, page_size), scale=None)
    keys = k_pages.flatten(0, 1)[rows].transpose(0, 1)  # (KH, length, D): what the library's gather returns
    values = v_pages.flatten(0, 1)[rows].transpose(0, 1)
    want = reference(query[:, None], keys, values)[0]
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


def test_even_runs_read_descending_pages_as_ascending_slices():
    assert attention._even_runs([30, 26, 22, 18, 5, 6, 7, 40]) == [(18, 4, 4), (5, 1, 3), (40, 1, 1)]

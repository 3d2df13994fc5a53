"""DeepSeek-V4 on engine.v4's paged cache against transformers' own DeepseekV4ForCausalLM (eager, the
reference), on tiny random-weight checkpoints with all three layer kinds: same logits, same greedy tokens,
chunked or not, cold or resumed from a kept or reloaded document cache; and the engine contract.

The equivalence model has 16 indexer heads: a key scores exactly 0 for a query when every head's dot product
is negative (ReLU), and the reference's torch.topk then picks among equal zeros in an order that depends on
the row's length, so with few heads no two implementations (nor the reference chunked and unchunked) agree.
With 16 heads such ties have probability 2**-16 per key; the few-head case is covered by the tests that our
own choice among ties does not depend on chunking or tiling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine.api import CancelledError, ContextOverflowError, GenerationRequest, Stage
from engine.local import LocalEngine
from engine.v4 import kernels
from engine.v4.cache import CSA, HCA, SLIDING, CacheGeometry, Pools, SequenceCache
from engine.v4.engine import V4Engine
from engine.v4.forward import forward
from engine.v4.pages import PagePool, PagedRows

pytestmark = pytest.mark.engine


def _perturb(model) -> None:
    """Sinks and compressor position biases initialise to zero; random values make the tests exercise them."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("sinks", "position_bias")):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)


@pytest.fixture(scope="module")
def v4_dir():
    from engine.tiny import cached_tiny_model

    return cached_tiny_model("deepseek_v4", layers=3, heads=16, max_context=16384)


@pytest.fixture(scope="module")
def reference(v4_dir):
    model = AutoModelForCausalLM.from_pretrained(v4_dir, dtype=torch.float32, attn_implementation="eager").eval()
    _perturb(model)
    return model


def _ids(model, n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, model.config.vocab_size, (n,), generator=torch.Generator().manual_seed(seed))


def _ours(model, ids: torch.Tensor, chunk: int) -> torch.Tensor:
    cache = SequenceCache.empty(Pools(CacheGeometry.from_model(model)))
    logits = torch.cat([forward(model, ids[s:s + chunk], cache, all_logits=True) for s in range(0, len(ids), chunk)])
    cache.free()
    return logits


def test_tiny_model_has_every_layer_kind(reference):
    assert set(reference.config.layer_types) == {SLIDING, CSA, HCA}
    assert set(reference.config.mlp_layer_types) == {"hash_moe", "moe"}


@pytest.mark.parametrize("length", [4096, 4093, 2052])
def test_prefill_logits_equal_reference_chunked_and_unchunked(reference, length):
    """4096 is a multiple of 4 and of 128; 4093 of neither; 2052 of 4 only."""
    ids = _ids(reference, length, seed=length)
    with torch.no_grad():
        expected = reference(ids.view(1, -1), use_cache=False).logits[0]
    for chunk in (length, 512, 129):
        ours = _ours(reference, ids, chunk)
        assert (ours - expected).abs().max().item() <= 1e-4, f"chunk {chunk}"


def _engine(model_dir, reference, tmp_path, **options) -> V4Engine:
    engine = LocalEngine.from_pretrained(model_dir, device="cpu", max_batch_tokens=options.pop("chunk", 512))
    assert isinstance(engine, V4Engine)
    engine.model.load_state_dict(reference.state_dict())  # the perturbed sinks and biases
    engine.prefixes.directory = tmp_path / "prefix-cache"
    for name, value in options.items():
        setattr(engine, name, value)
    return engine


def test_greedy_tokens_equal_reference_cold_resumed_and_reloaded(v4_dir, reference, tmp_path):
    engine = _engine(v4_dir, reference, tmp_path)
    prompt_ids = _ids(reference, 4093, seed=9).tolist()
    text = engine.tokenizer.decode(prompt_ids)
    ids = engine.prompt_ids(GenerationRequest(prompt=text))
    with torch.no_grad():
        expected = reference.generate(torch.tensor([ids]), max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                      attention_mask=torch.ones(1, len(ids), dtype=torch.long), pad_token_id=0)[0, len(ids):].tolist()
    request = GenerationRequest(prompt=text, max_tokens=64)
    engine.eos_token_ids = []  # 64 tokens every time, as min_new_tokens makes the reference do

    cold = engine.generate(request)
    assert cold.cached_prompt_tokens == 0 and list(cold.token_ids) == expected

    resumed = engine.generate(request)
    assert resumed.cached_prompt_tokens == (len(ids) - 1) // 2048 * 2048  # the last checkpoint before the end
    assert resumed.token_ids == cold.token_ids

    whole = _engine(v4_dir, reference, tmp_path / "elsewhere", chunk=8192)  # cold, the prompt in one chunk
    whole.eos_token_ids = []
    whole.prefixes.every = 8192  # no checkpoint boundary inside the prompt either
    unchunked = whole.generate(request)
    assert unchunked.cached_prompt_tokens == 0 and unchunked.token_ids == cold.token_ids
    whole.close()

    other = _engine(v4_dir, reference, tmp_path, chunk=1000)  # a new engine: the cache comes from disk
    other.eos_token_ids = []
    reloaded = other.generate(request)
    assert reloaded.cached_prompt_tokens == resumed.cached_prompt_tokens > 0
    assert reloaded.token_ids == cold.token_ids
    other.close()
    engine.close()


def test_choice_among_tied_indexer_scores_does_not_depend_on_chunking():
    """The default tiny V4 (4 indexer heads) has many exact-zero ties; ours breaks them by row order."""
    from engine.tiny import cached_tiny_model

    model = AutoModelForCausalLM.from_pretrained(cached_tiny_model("deepseek_v4"), dtype=torch.float32, attn_implementation="eager").eval()
    ids = _ids(model, 700, seed=3)
    whole = _ours(model, ids, 700)
    for chunk in (37, 256):
        assert (_ours(model, ids, chunk) - whole).abs().max().item() <= 1e-5


def test_indexer_top_k_prefers_lower_rows_among_equals_at_any_tile_size():
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(50, 2, 8, generator=generator)
    keys = torch.randn(300, 8, generator=generator)
    keys[20:] = 0  # every query scores these exactly 0: top-40 must fill up from a tie
    weights = torch.rand(50, 2, generator=generator)
    visible = torch.arange(200, 250)
    picks = [kernels.indexer_top_k(q, weights, lambda a, b: keys[a:b], 300, visible, k=40, softmax_scale=0.3,
                                   tile_rows=tile, tile_queries=tq) for tile, tq in ((300, 50), (7, 3), (64, 16))]
    assert all(torch.equal(picks[0], p) for p in picks[1:])
    scores = (torch.relu(torch.einsum("nhd,td->nht", q, keys)) * 0.3 * weights.unsqueeze(-1)).sum(1)
    for row in range(50):
        expected = sorted(range(int(visible[row])), key=lambda j: (-float(scores[row, j]), j))[:40]
        assert sorted(picks[0][row].tolist()) == sorted(expected)


def test_paged_rows_share_full_pages_copy_the_partial_one_and_free():
    pool = PagePool(4, page_rows=8, dtype=torch.float32, device="cpu", pages=2)
    rows = PagedRows(pool)
    data = torch.arange(21 * 4, dtype=torch.float32).view(21, 4)
    rows.append(data[:5])
    rows.append(data[5:])
    assert pool.pages >= 3 and torch.equal(rows.read(0, 21), data)  # grew past 2 pages, data kept
    child = rows.fork(19)
    assert child.table[:2] == rows.table[:2] and child.table[2] != rows.table[2]
    child.append(torch.full((3, 4), -1.0))
    assert torch.equal(rows.read(0, 21), data)  # the parent's partial page untouched
    assert torch.equal(child.gather(torch.tensor([[0, 18], [19, 21]])), torch.stack([data[[0, 18]], torch.full((2, 4), -1.0)]))
    used = pool.used_pages
    rows.free()
    assert pool.used_pages == used - 1  # the shared pages live on with the child
    child.free()
    assert pool.used_pages == 0


def test_cache_bytes_per_token_match_the_config(reference):
    cache = SequenceCache.empty(Pools(CacheGeometry.from_model(reference)))
    forward(reference, _ids(reference, 2048, seed=4), cache)
    per_token = CacheGeometry.from_model(reference).kv_bytes_per_token()
    assert abs(cache.row_bytes() / 2048 - per_token) <= 0.05 * per_token
    assert all(layer.window.shape[0] == 127 for layer in cache.layers)


def test_engine_reports_progress_streams_and_honours_stop_and_schema(v4_dir, reference, tmp_path):
    import jsonschema

    engine = _engine(v4_dir, reference, tmp_path, chunk=256)
    text = " ".join(f"Section {i}. The supplier shall deliver the goods." for i in range(120))
    seen = []
    result = engine.generate(GenerationRequest(prompt=text, max_tokens=12), on_progress=seen.append)
    prefill = [p.done for p in seen if p.stage == Stage.PREFILL]
    assert prefill[0] == 0 and prefill[-1] == result.prompt_tokens and prefill == sorted(prefill) and len(prefill) > 3
    assert [p.done for p in seen if p.stage == Stage.DECODE] == list(range(1, result.generated_tokens + 1))
    assert result.extra == {"path": "v4-paged", "attention_backend": "torch"}  # no GPU: see the backend test

    request = GenerationRequest(prompt=text + " Again.", max_tokens=20)
    whole = engine.generate(request)
    assert "".join(engine.stream(request)) == whole.text
    if len(whole.text) > 4:
        stop = whole.text[2:4]
        cut = engine.generate(GenerationRequest(prompt=request.prompt, max_tokens=20, stop=(stop,)))
        assert cut.finish_reason == "stop" and cut.text == whole.text[: whole.text.find(stop)]

    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False}
    answer = engine.generate(GenerationRequest(prompt="Answer in JSON:", max_tokens=32,
                                               response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}))
    jsonschema.validate(json.loads(answer.text), schema)

    sampled = GenerationRequest(prompt="hello", max_tokens=10, temperature=0.9, top_p=0.9, seed=7)
    assert engine.generate(sampled).token_ids == engine.generate(sampled).token_ids
    engine.close()


def test_engine_cancels_between_chunks_and_refuses_what_cannot_fit(v4_dir, reference, tmp_path):
    engine = _engine(v4_dir, reference, tmp_path, chunk=128)
    cancel = threading.Event()

    def on_progress(progress):
        if progress.stage == Stage.PREFILL and progress.done > 0:
            cancel.set()

    text = " ".join(f"term {i}" for i in range(2000))
    result = engine.generate(GenerationRequest(prompt=text, max_tokens=8), on_progress=on_progress, cancel=cancel)
    assert result.finish_reason == "cancelled" and result.generated_tokens == 0
    with pytest.raises(CancelledError):
        list(engine.stream(GenerationRequest(prompt="abc", max_tokens=8), cancel=cancel))
    assert engine.generate(GenerationRequest(prompt="abc", max_tokens=3)).generated_tokens >= 1

    with pytest.raises(ContextOverflowError) as refused:
        engine.generate(GenerationRequest(prompt="abc", max_tokens=engine.max_context + 1))
    assert str(engine.max_context) in str(refused.value)
    engine.close()

    small = LocalEngine.from_pretrained(v4_dir, device="cpu", memory_budget_bytes=30_000)
    assert small.max_context < 2000
    with pytest.raises(ContextOverflowError):
        small.generate(GenerationRequest(prompt=text, max_tokens=8))


FUSED_CHECK = """
import torch
from transformers import AutoModelForCausalLM
from engine.tiny import cached_tiny_model
from engine.v4.cache import CacheGeometry, Pools, SequenceCache
from engine.v4.forward import forward
model = AutoModelForCausalLM.from_pretrained(cached_tiny_model("deepseek_v4"), dtype=torch.float32, attn_implementation="eager").eval()
generator = torch.Generator().manual_seed(1)
with torch.no_grad():
    for name, parameter in model.named_parameters():
        if name.endswith(("sinks", "position_bias")):
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
ids = torch.randint(0, model.config.vocab_size, (170,), generator=generator)
def run(backend, chunk):
    cache = SequenceCache.empty(Pools(CacheGeometry.from_model(model)))
    return torch.cat([forward(model, ids[s:s + chunk], cache, all_logits=True, backend=backend) for s in range(0, 170, chunk)])
print((run("torch", 170) - run("triton", 90)).abs().max().item())
"""


def test_fused_triton_kernel_equals_the_pytorch_path_under_the_interpreter():
    """The CUDA kernel, run by Triton's CPU interpreter over a whole tiny model: window, HCA rows past 128
    tokens, CSA picks, sinks, two chunks."""
    env = {**os.environ, "TRITON_INTERPRET": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-c", FUSED_CHECK], env=env, capture_output=True, text=True, timeout=240,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) <= 1e-5


def test_engine_uses_the_pytorch_kernels_on_cpu_and_says_why(v4_dir):
    engine = LocalEngine.from_pretrained(v4_dir, device="cpu")
    assert engine.backend == "torch" and "CUDA" in engine.backend_reason

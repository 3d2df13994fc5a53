"""The in-process engine against transformers' own model.generate, on tiny random-weight models:
same greedy tokens, bounded chunked prefill, prefix reuse, concurrency, refusals, grammar, cancel."""

from __future__ import annotations

import json
import random
import string
import threading
import time

import pytest
import torch

from engine.local import LocalEngine
from engine.api import (
    CancelledError,
    ChatMessage,
    ContextOverflowError,
    EngineUnavailableError,
    GenerationRequest,
    InvalidRequestError,
    ModelNotFoundError,
    Stage,
)

pytestmark = pytest.mark.engine

BUDGET = 64 << 20  # about 20K cached tokens for these models at max_batch_tokens 512
LETTERS = string.ascii_letters + string.digits + " .,;:"


def text_of(n_chars: int, seed: int) -> str:
    return "".join(random.Random(seed).choices(LETTERS, k=n_chars))


def prompt_of(engine, n_tokens: int, seed: int) -> str:
    """Text of about `n_tokens` tokens for this engine's tokenizer (re-tokenising may move it by a few)."""
    tokenizer = engine.tokenizer
    ids = tokenizer.encode(text_of(n_tokens * 4, seed), add_special_tokens=False)[:n_tokens]
    return tokenizer.decode(ids)


def near(count: int, wanted: int) -> bool:
    return abs(count - wanted) <= wanted * 0.05 + 2


def reference_ids(engine, prompt_ids: list[int], max_new_tokens: int) -> tuple[int, ...]:
    inputs = torch.tensor([prompt_ids])
    with torch.no_grad():
        out = engine.model.generate(
            inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=max_new_tokens, do_sample=False,
            eos_token_id=engine.eos_token_ids, pad_token_id=engine.eos_token_ids[0],
        )
    return tuple(out[0, len(prompt_ids):].tolist())


class Flag:
    def __init__(self) -> None:
        self.event = threading.Event()

    def is_set(self) -> bool:
        return self.event.is_set()


@pytest.fixture(scope="module")
def engines(tiny_dirs):
    opened = {arch: LocalEngine.from_pretrained(path, memory_budget_bytes=BUDGET, max_batch_tokens=512) for arch, path in tiny_dirs.items()}
    yield opened
    for engine in opened.values():
        engine.close()


@pytest.fixture(scope="module")
def llama(engines):
    return engines["llama"]


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
@pytest.mark.parametrize("prompt_tokens", [10, 1000, 8000])
def test_greedy_tokens_equal_model_generate(engines, arch, prompt_tokens):
    engine = engines[arch]
    request = GenerationRequest(prompt=prompt_of(engine, prompt_tokens, seed=prompt_tokens), max_tokens=64)
    ids = engine.prompt_ids(request)
    assert near(len(ids), prompt_tokens)
    result = engine.generate(request)
    assert result.token_ids == reference_ids(engine, ids, 64)
    assert result.prompt_tokens == len(ids)
    assert result.extra["path"] == "batch"


def test_chunked_prefill_equals_single_chunk(tiny_dirs, llama):
    request = GenerationRequest(prompt=prompt_of(llama, 2000, seed=7), max_tokens=32)
    with LocalEngine.from_pretrained(tiny_dirs["llama"], memory_budget_bytes=BUDGET, max_batch_tokens=2048) as whole:
        unchunked = whole.generate(request)
    chunked = llama.generate(request)
    assert chunked.token_ids == unchunked.token_ids


def test_progress_reports_prefill_chunk_by_chunk_then_decode(llama):
    seen = []
    result = llama.generate(GenerationRequest(prompt=prompt_of(llama, 6000, seed=11), max_tokens=8), on_progress=seen.append)
    total = result.prompt_tokens
    prefill = [p.done for p in seen if p.stage == Stage.PREFILL]
    decode = [p.done for p in seen if p.stage == Stage.DECODE]
    assert prefill[0] == 0 and prefill[-1] == total
    assert sum(0 < done < total for done in prefill) >= 5, "no progress between 512-token chunks"
    assert prefill == sorted(prefill)
    first_decode = next(i for i, p in enumerate(seen) if p.stage == Stage.DECODE)
    assert all(p.stage == Stage.PREFILL for p in seen[:first_decode])
    assert decode[-1] == result.generated_tokens


def test_shared_prefix_is_reused_and_gives_cold_run_tokens(tiny_dirs):
    with LocalEngine.from_pretrained(tiny_dirs["llama"], memory_budget_bytes=BUDGET) as engine:
        document = prompt_of(engine, 8000, seed=21)
        first = GenerationRequest(prompt=document + " Question one?", max_tokens=16)
        second = GenerationRequest(prompt=document + " Question two?", max_tokens=16)
        cold = engine.generate(first)
        warm = engine.generate(second)
        assert cold.cached_prompt_tokens == 0
        assert warm.cached_prompt_tokens >= 7 * 1024  # whole 256-token pages of the shared document
        assert warm.cached_prompt_tokens % 256 == 0
        assert warm.token_ids == reference_ids(engine, engine.prompt_ids(second), 16)
        assert warm.prefill_seconds < cold.prefill_seconds


def test_concurrent_requests_match_sequential(llama):
    requests = [GenerationRequest(prompt=prompt_of(llama, 300 + 50 * i, seed=100 + i), max_tokens=24) for i in range(4)]
    sequential = [llama.generate(r).token_ids for r in requests]
    concurrent: dict[int, tuple[int, ...]] = {}

    def run(i: int) -> None:
        concurrent[i] = llama.generate(requests[i]).token_ids

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [concurrent.get(i) for i in range(4)] == sequential


def test_context_overflow_is_refused_before_compute(tiny_dirs, llama):
    seen = []
    request = GenerationRequest(prompt=prompt_of(llama, 16000, seed=3), max_tokens=1000)
    with pytest.raises(ContextOverflowError) as refused:
        llama.generate(request, on_progress=seen.append)
    assert str(len(llama.prompt_ids(request))) in refused.value.message and "1000" in refused.value.message and str(llama.max_context) in refused.value.message
    assert seen == []

    with LocalEngine.from_pretrained(tiny_dirs["llama"], memory_budget_bytes=4 << 20) as small:
        assert small.max_context < 16384
        with pytest.raises(ContextOverflowError) as refused:
            small.generate(GenerationRequest(prompt=prompt_of(small, small.max_context, seed=4), max_tokens=10), on_progress=seen.append)
        assert str(small.max_context) in refused.value.message
    assert seen == []


def test_unknown_model_path_gives_one_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError) as missing:
        LocalEngine.from_pretrained(tmp_path / "no-such-model")
    assert "QUIRE_ENGINE_MODEL" in missing.value.message and "no-such-model" in missing.value.message


def test_unreachable_hub_id_fails_fast_with_one_clear_error(monkeypatch):
    # tests/conftest.py points HF_ENDPOINT at a closed local port: the real probe runs, on loopback.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError) as failed:
        LocalEngine.from_pretrained("quire-tests/no-such-model-7f3a")
    assert time.monotonic() - started < 5
    assert "QUIRE_ENGINE_MODEL" in failed.value.message

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EngineUnavailableError) as offline:
        LocalEngine.from_pretrained("quire-tests/no-such-model-7f3a")
    assert "offline" in offline.value.message and "QUIRE_ENGINE_MODEL" in offline.value.message


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "objekt"}}},
        {"type": "json_schema", "json_schema": {"name": "x"}},
        {"type": "xml"},
    ],
)
def test_malformed_schema_is_an_invalid_request(llama, response_format):
    seen = []
    with pytest.raises(InvalidRequestError):
        llama.generate(GenerationRequest(prompt="hi", max_tokens=8, response_format=response_format), on_progress=seen.append)
    assert seen == []


def test_json_schema_output_parses_and_validates(llama):
    import jsonschema
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}, "label": {"enum": ["yes", "no", "maybe"]}},
        "required": ["ok", "label"],
        "additionalProperties": False,
    }
    request = GenerationRequest(
        messages=(ChatMessage("user", "Answer in JSON."),), max_tokens=64,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    )
    result = llama.generate(request)
    jsonschema.validate(json.loads(result.text), schema)
    assert result.finish_reason == "stop"


def _schema_request(prompt: str, schema: dict, max_tokens: int = 48) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, max_tokens=max_tokens,
                             response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}})


def test_schema_requests_share_the_batch_each_under_its_own_grammar(llama):
    """Schema requests run in the continuous batch beside plain greedy ones: each row is masked by its own
    matcher (the constrained tokens equal model.generate with xgrammar's own logits processor, the reference
    path), and a plain request in the same steps is left exactly as it would be alone."""
    import jsonschema
    from transformers import LogitsProcessorList

    schemas = [
        {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}},
         "required": ["ok", "n"], "additionalProperties": False},
        {"type": "object", "properties": {"label": {"enum": ["alpha", "beta", "gamma"]},
                                          "words": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3}},
         "required": ["label", "words"], "additionalProperties": False},
    ]
    constrained = [_schema_request(prompt_of(llama, 300, seed=40 + i), schema) for i, schema in enumerate(schemas)]
    plain = GenerationRequest(prompt=prompt_of(llama, 300, seed=50), max_tokens=48)
    results: dict[int, object] = {}

    def run(i, request):
        results[i] = llama.generate(request)

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate([*constrained, plain])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    for i, schema in enumerate(schemas):
        result = results[i]
        assert result.extra["path"] == "batch"
        if result.finish_reason == "stop":
            jsonschema.validate(json.loads(result.text), schema)
        ids = llama.prompt_ids(constrained[i])
        inputs = torch.tensor([ids])
        with torch.no_grad():
            out = llama.model.generate(
                inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=48, do_sample=False,
                eos_token_id=llama.eos_token_ids, pad_token_id=llama.eos_token_ids[0],
                logits_processor=LogitsProcessorList([llama._grammars.processor(llama._grammars.compile(schema))]),
            )
        assert result.token_ids == tuple(out[0, len(ids):].tolist())[:len(result.token_ids)]
        assert result.generated_tokens > 0
    assert results[2].token_ids == reference_ids(llama, llama.prompt_ids(plain), 48)


def test_schema_requests_leave_the_batch_where_its_pick_is_not_python_each_step(llama, monkeypatch):
    """On CPU the batch's pick runs as Python every step, so schema requests join it; where it does not (CUDA
    graphs, torch.compile, async batching) they keep to model.generate with xgrammar's processor."""
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False}
    assert llama._batch.grammar_in_batch
    monkeypatch.setattr(llama._batch, "grammar_in_batch", False)
    result = llama.generate(_schema_request(prompt_of(llama, 50, seed=60), schema))
    assert result.extra["path"] == "generate" and result.finish_reason == "stop"
    assert json.loads(result.text) in ({"ok": True}, {"ok": False})


def test_a_finished_grammar_lets_only_the_engines_end_tokens_follow(llama):
    """A grammar that ended on a stop token the engine does not stop on must not be asked for another mask
    (xgrammar raises, which would stop the whole batch): the row is held to the engine's end tokens instead."""
    from engine.local.structured import BatchGrammars

    compiled = llama._grammars.compile({"enum": ["x"]})
    engine_end = 7
    grammars = BatchGrammars(eos_token_ids=[engine_end])
    grammars.add("r", compiled)
    vocab = llama.model.config.vocab_size
    for _ in range(20):
        scores = torch.zeros(2, vocab)
        rows = grammars.constrain(["other", "r"], scores)
        assert torch.isfinite(scores[0]).all()  # the unconstrained row is untouched
        allowed = torch.isfinite(scores[1]).nonzero().flatten().tolist()
        matcher = rows[0][1]
        if matcher.is_terminated():
            assert allowed == [engine_end]
            break
        stop = [t for t in matcher.stop_token_ids if t in allowed]
        grammars.advance(rows, [0, stop[0] if stop else allowed[0]])
    else:
        raise AssertionError("the grammar never finished")


def test_cancel_stops_decode_promptly(llama):
    cancel = Flag()

    def on_progress(progress):
        if progress.stage == Stage.DECODE and progress.done >= 5:
            cancel.event.set()

    started = time.monotonic()
    result = llama.generate(GenerationRequest(prompt=prompt_of(llama, 500, seed=5), max_tokens=5000), on_progress=on_progress, cancel=cancel)
    assert result.finish_reason == "cancelled"
    assert 5 <= result.generated_tokens < 100
    assert time.monotonic() - started < 10


def test_cancel_during_prefill_and_stream_raises(llama):
    cancel = Flag()

    def on_progress(progress):
        if progress.stage == Stage.PREFILL and progress.done > 0:
            cancel.event.set()

    result = llama.generate(GenerationRequest(prompt=prompt_of(llama, 8000, seed=6), max_tokens=16), on_progress=on_progress, cancel=cancel)
    assert result.finish_reason == "cancelled" and result.generated_tokens == 0

    cancel = Flag()
    cancel.event.set()
    with pytest.raises(CancelledError):
        list(llama.stream(GenerationRequest(prompt="abc", max_tokens=16), cancel=cancel))
    # the shared batch still serves requests afterwards
    assert llama.generate(GenerationRequest(prompt="abc", max_tokens=4)).generated_tokens >= 1


def test_stream_pieces_join_to_generated_text_and_stop_strings_cut(llama):
    request = GenerationRequest(prompt=prompt_of(llama, 200, seed=8), max_tokens=40)
    whole = llama.generate(request)
    assert "".join(llama.stream(request)) == whole.text
    pieces = llama.stream(request)
    with pytest.raises(StopIteration) as done:
        while True:
            next(pieces)
    assert done.value.value.token_ids == whole.token_ids and done.value.value.prompt_tokens == whole.prompt_tokens
    assert len(whole.text) > 4
    stop = whole.text[2:4]
    cut = llama.generate(GenerationRequest(prompt=request.prompt, max_tokens=40, stop=(stop,)))
    assert cut.finish_reason == "stop" and cut.text == whole.text[: whole.text.find(stop)]


def test_seeded_sampling_repeats_and_chat_messages_work(llama):
    request = GenerationRequest(messages=(ChatMessage("user", "hello"),), max_tokens=16, temperature=0.8, top_p=0.9, seed=42)
    first, second = llama.generate(request), llama.generate(request)
    assert first.token_ids == second.token_ids and first.extra["path"] == "generate"
    assert llama.count_tokens("hello world") == len(llama.tokenizer.encode("hello world", add_special_tokens=False)) > 0


def test_abandoned_stream_frees_its_batch_slot(llama):
    pieces = llama.stream(GenerationRequest(prompt=prompt_of(llama, 100, seed=9), max_tokens=5000))
    next(pieces, None)
    pieces.close()
    deadline = time.monotonic() + 5
    while llama._batch.manager.batch_processor.scheduler.active_requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not llama._batch.manager.batch_processor.scheduler.active_requests

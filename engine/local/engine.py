"""LocalEngine: the Engine protocol over an in-process transformers model.

Greedy requests, JSON-schema ones included, share one continuous batch (paged KV cache, chunked prefill, prefix
reuse across requests; each schema request's grammar masks its own row, see batching.SharedBatch: on CPU; under
CUDA graphs, torch.compile or async batching the batch's pick is not Python each step, and schema requests run
through model.generate as sampled ones do). Sampled
requests run through model.generate one at a time, because sampling in transformers 5.23's batch draws from one
unseeded generator shared by every request, so a request's seed would mean nothing there.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.api import (
    CancelToken,
    EngineError,
    GenerationProgress,
    GenerationRequest,
    GenerationResult,
    Stage,
)
from engine.local import allocator
from engine.local.batching import SharedBatch, Step
from engine.local.loading import load
from engine.local.memory import MemoryPlan, plan_memory
from engine.local.protocol import RunDrivenEngine, prompt_ids
from engine.local.structured import GrammarCache

ProgressCallback = Callable[[GenerationProgress], None] | None
_POLL_SECONDS = 0.02


class _Cancelled(Exception):
    pass


def _v4_engine(loaded, *, model_id: str, memory_budget_bytes, prefill_chunk: int, on_progress, size_for, prefix_cache_dir):
    """DeepSeek-V4 checkpoints run on engine.v4's paged cache: transformers' continuous batching has no
    allocator for its compressed layers."""
    from engine.v4.cache import CacheGeometry
    from engine.v4.engine import V4Engine, plan_v4_memory

    geometry = CacheGeometry.from_model(loaded.model)
    plan = plan_v4_memory(geometry, model_limit=loaded.model.config.max_position_embeddings, budget_bytes=memory_budget_bytes)
    if size_for is not None:
        plan.check_fits(prompt_tokens=len(prompt_ids(loaded.tokenizer, size_for, model_id=model_id)), max_tokens=size_for.max_tokens)
    engine = V4Engine(model=loaded.model, tokenizer=loaded.tokenizer, model_id=model_id, eos_token_ids=loaded.eos_token_ids,
                      plan=plan, prefill_chunk=prefill_chunk, cache_dir=Path(prefix_cache_dir) if prefix_cache_dir else None)
    if on_progress:
        on_progress(GenerationProgress(Stage.LOADING, 1, 1))
    return engine


class LocalEngine(RunDrivenEngine):
    def __init__(self, *, model, tokenizer, model_id: str, eos_token_ids: list[int], plan: MemoryPlan,
                 allow_block_sharing: bool = True) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.eos_token_ids = list(eos_token_ids)
        self.plan = plan
        self.max_context = plan.max_context
        self._batch = SharedBatch(
            model,
            eos_token_ids=self.eos_token_ids,
            page_size=plan.page_size,
            num_blocks=plan.num_blocks,
            max_batch_tokens=plan.max_batch_tokens,
            allow_block_sharing=allow_block_sharing,
        )
        self._solo = threading.Lock()  # model.generate path: one at a time (it seeds the global generator)
        self._grammars = GrammarCache(tokenizer, vocab_size=model.config.get_text_config().vocab_size)
        self._finalizer = weakref.finalize(self, self._batch.close)

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path,
        *,
        device: str = "cpu",
        dtype=None,
        memory_budget_bytes: int | None = None,
        page_size: int = 256,
        max_batch_tokens: int = 2048,  # bench/RESULTS.md: prefill chunk sweep on CPU
        allow_block_sharing: bool = True,
        on_progress: ProgressCallback = None,
        size_for: GenerationRequest | None = None,
        prefix_cache_dir: str | Path | None = None,
        context: int | None = None,
    ) -> LocalEngine:
        """Load from a local directory, or from a hub id only where it is cached or the hub answers now.

        `size_for` sizes the cache to exactly the pages that one request needs (and refuses it now if
        the model cannot hold it) instead of planning from `memory_budget_bytes`: for one-shot runs.
        A DeepSeek-V4 checkpoint gives an engine.v4.V4Engine (same protocol); `prefix_cache_dir` is where it
        saves document caches for follow-up questions (kept in memory only when None). Before any weight is
        read, the folder's files are checked and the memory plan for `context` tokens (default: the model's
        limit) must fit this machine: engine.model_plan.ModelDoesNotFitError says by how much it does not.
        """
        if on_progress:
            on_progress(GenerationProgress(Stage.LOADING, 0, 1))
        loaded = load(model, device=device, dtype=dtype, context=context)
        if loaded.device.startswith("cpu"):
            allocator.tune_for_tensors()
        from engine.v4.engine import is_v4

        if is_v4(loaded.model.config):
            return _v4_engine(loaded, model_id=str(model), memory_budget_bytes=memory_budget_bytes,
                              prefill_chunk=max_batch_tokens, on_progress=on_progress, size_for=size_for,
                              prefix_cache_dir=prefix_cache_dir)
        cache_tokens = None
        if size_for is not None:
            prompt_tokens = len(prompt_ids(loaded.tokenizer, size_for, model_id=str(model)))
            cache_tokens = prompt_tokens + size_for.max_tokens
        plan = plan_memory(
            loaded.model.config,
            dtype_bytes=loaded.model.dtype.itemsize,
            page_size=page_size,
            max_batch_tokens=max_batch_tokens,
            budget_bytes=memory_budget_bytes,
            uses_mask="flash" not in loaded.attn_implementation,
            cache_tokens=cache_tokens,
        )
        if size_for is not None:
            plan.check_fits(prompt_tokens=prompt_tokens, max_tokens=size_for.max_tokens)
        engine = cls(model=loaded.model, tokenizer=loaded.tokenizer, model_id=str(model), eos_token_ids=loaded.eos_token_ids,
                     plan=plan, allow_block_sharing=allow_block_sharing)
        if on_progress:
            on_progress(GenerationProgress(Stage.LOADING, 1, 1))
        return engine

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kv_usage(self) -> dict[str, int]:
        """The paged KV cache: bytes it holds and bytes free now (pages freed by finished requests count as
        free even while kept for prefix reuse, as transformers counts them)."""
        cache = self._batch.manager.batch_processor.cache
        total = int(cache.num_sectors * cache.bytes_per_sector)
        free = int(cache.compute_free_capacity(relative=False))
        return {"total_bytes": total, "used_bytes": max(0, total - free), "page_size": self.plan.page_size}

    # ------------------------------------------------------------------ text <-> ids

    # ------------------------------------------------------------------ one request

    def _run(self, request: GenerationRequest, on_progress: ProgressCallback, cancel: CancelToken | None):
        ids, grammar = self._admit(request)
        report = on_progress or (lambda progress: None)
        report(GenerationProgress(Stage.PREFILL, 0, len(ids)))

        started = time.perf_counter()
        if request.temperature == 0 and (grammar is None or self._batch.grammar_in_batch):
            ticket = self._batch.submit(ids, request.max_tokens, grammar=grammar)
            steps, request_id = ticket.steps, ticket.request_id
            stop_source: Callable[[], None] = lambda: self._batch.cancel(request_id)
        else:
            steps, stop_source = self._start_solo(ids, request, grammar)
            request_id = None

        tokens: list[int] = []
        text = ""
        first_token_at: float | None = None
        finish = "length"
        settled = False  # False when leaving early: an abandoned stream or a raising callback
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    stop_source()
                    finish = "cancelled"
                    break
                try:
                    step: Step = steps.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if step.prefill_done is not None:
                    report(GenerationProgress(Stage.PREFILL, min(step.prefill_done, len(ids)), len(ids)))
                    continue
                if step.error is not None:
                    raise EngineError(f"Generation failed: {step.error}")
                if first_token_at is None and step.generated_tokens:
                    first_token_at = time.perf_counter()
                    report(GenerationProgress(Stage.PREFILL, len(ids), len(ids)))
                tokens = step.generated_tokens
                if tokens:
                    report(GenerationProgress(Stage.DECODE, len(tokens), request.max_tokens))
                new_text, stopped = self._decode(tokens, request.stop)
                if new_text.startswith(text) and len(new_text) > len(text):
                    yield new_text[len(text):]
                    text = new_text
                elif not new_text.startswith(text):
                    text = new_text  # a tokenizer that rewrites earlier text; the stream cannot take it back
                if stopped:
                    stop_source()
                    finish = "stop"
                    break
                if step.finished:
                    finish = "stop" if tokens and tokens[-1] in self.eos_token_ids else "length"
                    break
            settled = True
        finally:
            if not settled:
                stop_source()  # free its pages and batch slot instead of decoding for nobody
            if request_id is not None:
                cached = self._batch.cached_tokens(request_id)
                self._batch.forget(request_id)
            else:
                cached = 0
        ended = time.perf_counter()
        return GenerationResult(
            text=text,
            token_ids=tuple(tokens),
            prompt_tokens=len(ids),
            generated_tokens=len(tokens),
            finish_reason=finish,
            prefill_seconds=(first_token_at - started) if first_token_at else None,
            decode_seconds=(ended - first_token_at) if first_token_at else None,
            cached_prompt_tokens=cached,
            extra={"path": "batch" if request_id is not None else "generate"},
        )

    def _start_solo(self, ids: list[int], request: GenerationRequest, grammar) -> tuple[queue.Queue, Callable[[], None]]:
        """model.generate in a worker thread, publishing the same Steps as the batch."""
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        steps: queue.Queue = queue.Queue()
        halt = threading.Event()
        generated: list[int] = []

        class Publish(BaseStreamer):
            def __init__(self) -> None:
                self.prompt_seen = False

            def put(self, value) -> None:
                if not self.prompt_seen:  # generate() first hands the streamer the prompt
                    self.prompt_seen = True
                    return
                generated.extend(int(t) for t in value.reshape(-1).tolist())
                steps.put(Step(list(generated), False))

            def end(self) -> None:
                pass

        class Halt(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), halt.is_set(), dtype=torch.bool, device=input_ids.device)

        sampling = request.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "do_sample": sampling,
            "eos_token_id": self.eos_token_ids,
            "pad_token_id": self.eos_token_ids[0],
            "streamer": Publish(),
            "stopping_criteria": StoppingCriteriaList([Halt()]),
        }
        if sampling:
            kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=None)
        if grammar is not None:
            kwargs["logits_processor"] = LogitsProcessorList([self._grammars.processor(grammar)])

        def work() -> None:
            try:
                with self._solo, torch.no_grad(), torch.random.fork_rng(devices=[]):
                    if request.seed is not None:
                        torch.manual_seed(request.seed)
                    inputs = torch.tensor([ids], device=self.model.device)
                    self.model.generate(inputs, attention_mask=torch.ones_like(inputs), **kwargs)
                steps.put(Step(list(generated), True))
            except Exception as error:  # surfaced to the caller's thread as an EngineError
                steps.put(Step(list(generated), True, f"{type(error).__name__}: {error}"))

        threading.Thread(target=work, name="quire-generate", daemon=True).start()
        return steps, halt.set

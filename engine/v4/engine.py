"""V4Engine: the Engine protocol over a DeepSeek-V4 checkpoint, with the paged V4 cache of engine.v4.

transformers' continuous batching has no allocator for V4's compressed layers, so this engine runs one
request at a time in the caller's thread: the prompt in chunks of `prefill_chunk` tokens (progress and
cancellation between chunks), then one token per step. Prefill checkpoints every `checkpoint_every`
tokens let a later prompt that repeats the document resume where they diverge (engine.v4.prefix).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from engine.api import CancelToken, EngineError, GenerationProgress, GenerationRequest, GenerationResult, InvalidRequestError, Stage
from engine.local.memory import MemoryPlan, host_memory_bytes
from engine.local.protocol import RunDrivenEngine
from engine.local.structured import GrammarCache
from engine.v4 import forward as v4_forward
from engine.v4.cache import CacheGeometry, Pools, SequenceCache
from engine.v4.prefix import PrefixStore

ProgressCallback = Callable[[GenerationProgress], None] | None
_DEFAULT_HOST_FRACTION = 0.25


def is_v4(config) -> bool:
    return getattr(config, "model_type", None) == "deepseek_v4"


def plan_v4_memory(geometry: CacheGeometry, *, model_limit: int, budget_bytes: int | None) -> MemoryPlan:
    """The longest context whose compressed rows fit the budget (windows are a constant on top)."""
    per_token = geometry.kv_bytes_per_token()
    budget = budget_bytes if budget_bytes is not None else int(host_memory_bytes() * _DEFAULT_HOST_FRACTION)
    fits = int(max(0, budget - geometry.window_bytes()) // max(per_token, 1e-9))
    return MemoryPlan(page_size=1, num_blocks=min(fits, model_limit), max_batch_tokens=0,
                      kv_bytes_per_token=math.ceil(per_token), overhead_bytes_per_token=0,
                      max_context=min(fits, model_limit), budget_bytes=budget)


class V4Engine(RunDrivenEngine):
    def __init__(self, *, model, tokenizer, model_id: str, eos_token_ids: list[int], plan: MemoryPlan,
                 prefill_chunk: int = 2048, checkpoint_every: int = 2048, cache_dir: Path | None = None,
                 tile_rows: int = 4096) -> None:
        if checkpoint_every % 128:
            raise InvalidRequestError("checkpoint_every must be a multiple of 128 (V4's heaviest compression window).")
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.eos_token_ids = list(eos_token_ids)
        self.plan = plan
        self.max_context = plan.max_context
        self.prefill_chunk = prefill_chunk
        self.tile_rows = tile_rows
        self.geometry = CacheGeometry.from_model(model)
        # The fused kernel where it compiles and checks out on this GPU; the reason is kept for operators.
        self.backend, self.backend_reason = v4_forward.choose_backend(self.geometry.devices[0])
        self.pools = Pools(self.geometry)
        model_key = f"{model_id}|{getattr(model.config, '_name_or_path', '')}|{model.dtype}|{_weights_fingerprint(model)}"
        self.prefixes = PrefixStore(self.pools, model_key=model_key, every=checkpoint_every, directory=cache_dir)
        self._lock = threading.Lock()
        self._grammars = GrammarCache(tokenizer, vocab_size=model.config.vocab_size)

    def close(self) -> None:
        self.prefixes.clear()

    def __enter__(self) -> V4Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kv_usage(self) -> dict[str, int]:
        return {"total_bytes": self.pools.nbytes(), "used_bytes": self.pools.used_bytes(), "page_size": self.geometry.page_rows}

    # ------------------------------------------------------------------ one request

    def _run(self, request: GenerationRequest, on_progress: ProgressCallback, cancel: CancelToken | None):
        ids, grammar = self._admit(request)
        report = on_progress or (lambda progress: None)
        cancelled = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)

        with self._lock:
            started = time.perf_counter()
            cache = self.prefixes.resume(ids) or SequenceCache.empty(self.pools)
            reused = cache.length
            checkpoints = {}
            try:
                logits = None
                report(GenerationProgress(Stage.PREFILL, reused, len(ids)))
                position = reused
                while position < len(ids):
                    if cancelled():
                        cache.free()
                        return self._result("", [], ids, "cancelled", started, None, reused)
                    end = min(position + self.prefill_chunk, len(ids))
                    boundary = (position // self.prefixes.every + 1) * self.prefixes.every
                    end = min(end, boundary)
                    logits = v4_forward.forward(self.model, ids[position:end], cache, tile_rows=self.tile_rows, backend=self.backend)
                    position = end
                    if position % self.prefixes.every == 0:
                        checkpoints[position] = cache.checkpoint()
                    report(GenerationProgress(Stage.PREFILL, position, len(ids)))
                first_token_at = time.perf_counter()
                tokens, text, finish = [], "", "length"
                processor = self._grammars.processor(grammar) if grammar is not None else None
                generator = torch.Generator(device=logits.device)
                if request.seed is not None:
                    generator.manual_seed(request.seed)
                else:
                    generator.seed()
                while True:
                    token = self._choose(logits, tokens[-1] if tokens else ids[-1], request, processor, generator)
                    tokens.append(token)
                    report(GenerationProgress(Stage.DECODE, len(tokens), request.max_tokens))
                    new_text, stopped = self._decode(tokens, request.stop)
                    if new_text.startswith(text) and len(new_text) > len(text):
                        yield new_text[len(text):]
                    text = new_text
                    if stopped:
                        finish = "stop"
                        break
                    if token in self.eos_token_ids:
                        finish = "stop"
                        break
                    if len(tokens) >= request.max_tokens:
                        break
                    if cancelled():
                        finish = "cancelled"
                        break
                    logits = v4_forward.forward(self.model, [token], cache, tile_rows=self.tile_rows, backend=self.backend)
            except (EngineError, GeneratorExit):
                cache.free()
                raise
            except Exception as error:  # a failure inside the model: one error the caller can show
                cache.free()
                raise EngineError(f"Generation failed: {type(error).__name__}: {error}") from error
            self.prefixes.record(cache, checkpoints)
            return self._result(text, tokens, ids, finish, started, first_token_at, reused)

    def _choose(self, logits: torch.Tensor, last_token: int, request: GenerationRequest, processor, generator) -> int:
        scores = logits.float().view(1, -1)
        if processor is not None:
            # xgrammar's processor reads only the newest token of input_ids; handing it the whole prompt
            # would copy a (possibly million-token) list on every step.
            scores = processor(torch.tensor([[last_token]], device=scores.device), scores)
        if request.temperature == 0:
            return int(scores.argmax(dim=-1))
        probs = torch.softmax(scores / request.temperature, dim=-1)[0]
        if request.top_p < 1:
            ordered, order = probs.sort(descending=True)
            keep = ordered.cumsum(0) - ordered < request.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], ordered[keep])
        return int(torch.multinomial(probs, 1, generator=generator))

    def _result(self, text, tokens, ids, finish, started, first_token_at, reused) -> GenerationResult:
        ended = time.perf_counter()
        return GenerationResult(
            text=text, token_ids=tuple(tokens), prompt_tokens=len(ids), generated_tokens=len(tokens), finish_reason=finish,
            prefill_seconds=(first_token_at - started) if first_token_at else None,
            decode_seconds=(ended - first_token_at) if first_token_at else None,
            cached_prompt_tokens=reused,
            extra={"path": "v4-paged", "attention_backend": self.backend},
        )


def _weights_fingerprint(model) -> str:
    """A cheap identity for the loaded weights (a few values of the embedding), so a checkpoint made by
    other weights under the same name is never reused."""
    import hashlib

    weight = model.model.embed_tokens.weight
    sample = weight.detach().reshape(-1)[:: max(1, weight.numel() // 64)][:64].float().cpu()
    return hashlib.sha256(sample.numpy().tobytes()).hexdigest()[:16]

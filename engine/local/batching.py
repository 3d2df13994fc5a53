"""One shared continuous batch: transformers' ContinuousBatchingManager (paged KV cache, chunked prefill,
prefix sharing) driven from many caller threads, each of which sees only its own request's steps.

transformers 5.23 gives no per-request hook for prefill progress or for how much of a prompt was served
from shared pages, and its generation thread is not a daemon; where this module reaches past the public
API it says so, because the library cannot be extended cleanly at those points.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from dataclasses import dataclass, field

from engine.api import EngineUnavailableError
from engine.local.structured import BatchGrammars


@dataclass
class Step:
    """The state of one request after a forward pass: every token generated so far."""

    generated_tokens: list[int]
    finished: bool
    error: str | None = None
    prefill_done: int | None = None  # set on steps that only report prefill progress


@dataclass
class Ticket:
    request_id: str
    prompt_tokens: int
    steps: queue.Queue = field(default_factory=queue.Queue)


class SharedBatch:
    def __init__(self, model, *, eos_token_ids: list[int], page_size: int, num_blocks: int, max_batch_tokens: int,
                 allow_block_sharing: bool = True) -> None:
        from transformers import GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        # A fresh greedy config: the batch applies only config-level logits processors, the same for every request,
        # so sampled requests do not come through here (see engine.py); JSON-schema requests do where the batch runs
        # its sampling step in Python each step (see grammar_in_batch), each with its own grammar matcher.
        generation_config = GenerationConfig(do_sample=False, eos_token_id=eos_token_ids, pad_token_id=eos_token_ids[0])
        cb_config = ContinuousBatchingConfig(
            page_size=page_size,
            num_blocks=num_blocks,
            max_batch_tokens=max_batch_tokens,
            allow_block_sharing=allow_block_sharing,
        )
        self.manager = model.init_continuous_batching(generation_config=generation_config, continuous_batching_config=cb_config)
        self._tickets: dict[str, Ticket] = {}
        self._cached: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._closed = threading.Event()
        self._grammars = BatchGrammars(eos_token_ids)
        self._start_daemon_loop()
        self._watch_prefix_matches()
        self._watch_prefill_chunks()
        self._watch_grammar_rows()
        self._router = threading.Thread(target=self._route, name="quire-batch-router", daemon=True)
        self._router.start()

    def _start_daemon_loop(self) -> None:
        # manager.start() makes a non-daemon thread, so one engine left open would keep the process from exiting;
        # this is start() with daemon=True.
        manager = self.manager
        manager.background_thread_status.clear()
        manager._generation_thread = threading.Thread(target=manager._run_generation_loop, name="quire-batch", daemon=True)
        manager._generation_thread.start()
        deadline = time.monotonic() + 120
        while manager.batch_processor is None:
            if not manager.is_running() or time.monotonic() > deadline:
                cause = manager.background_thread_status.fatal_error
                raise EngineUnavailableError(
                    f"The continuous-batching loop failed to start: {cause or 'it did not start within 120 s'}. "
                    "A smaller memory_budget_bytes or max_batch_tokens makes the paged cache and its mask smaller."
                )
            time.sleep(0.005)

    def _watch_prefix_matches(self) -> None:
        # The library records no per-request count of prompt tokens served from shared pages; wrap the one
        # method that decides it, on this cache instance only.
        cache = self.manager.batch_processor.cache
        original = cache.search_prefix_match

        def search_prefix_match(request_id: str, prompt_ids: list[int]) -> int:
            matched = original(request_id, prompt_ids)
            with self._lock:
                self._cached[request_id] = self._cached.get(request_id, 0) + matched
            return matched

        cache.search_prefix_match = search_prefix_match

    def _watch_prefill_chunks(self) -> None:
        # Outputs reach the caller only once a token is generated; a long prompt is prefilled over many forward
        # passes first. After each pass, tell every request still prefilling how far it got.
        from transformers.generation.continuous_batching.requests import RequestStatus

        processor = self.manager.batch_processor
        original = processor.update_batch

        def update_batch() -> None:
            original()
            with self._lock:
                tickets = dict(self._tickets)
            for request_id, state in list(processor.scheduler.active_requests.items()):
                ticket = tickets.get(request_id)
                if ticket is not None and state.status == RequestStatus.PREFILLING:
                    ticket.steps.put(Step([], False, prefill_done=int(state.position_offset)))

        processor.update_batch = update_batch

    def _watch_grammar_rows(self) -> None:
        # transformers 5.23 has no per-request logits hook in the batch. Two points are wrapped on this batch's
        # objects only: where the batch is laid out (which request each logits row belongs to, in order) and the
        # greedy pick (mask the constrained rows before it, advance their matchers with what it picked).
        # That holds only where each step's pick runs as Python before the next step is laid out: not under CUDA
        # graphs or torch.compile (the pick is replayed or traced) nor async batching (the next step is laid out
        # first). There grammar_in_batch is False and the engine keeps such requests on model.generate.
        processor = self.manager.batch_processor
        io, runner = processor.inputs_and_outputs, processor.model_runner
        self.grammar_in_batch = not (processor.use_async_batching or runner.use_cuda_graph_varlen or runner.use_cuda_graph_decode
                                     or runner._compiled_varlen is not None or runner._compiled_decode is not None)
        layout, pick = io.prepare_batch_tensors, runner._sample
        rows: list[str] = []

        def prepare_batch_tensors(*args, **kwargs):
            requests_in_batch = kwargs.get("requests_in_batch", args[0] if args else [])
            rows[:] = [future.state.request_id for future in requests_in_batch if future.has_new_token]
            return layout(*args, **kwargs)

        def sample(scores, output_ids) -> None:
            if not self._grammars:
                return pick(scores, output_ids)
            constrained = self._grammars.constrain(rows, scores[0])
            pick(scores, output_ids)
            if constrained:
                self._grammars.advance(constrained, output_ids[0, : len(rows)].tolist())

        io.prepare_batch_tensors = prepare_batch_tensors
        runner._sample = sample

    @property
    def prefix_sharing(self) -> bool:
        return bool(self.manager.batch_processor.cache.use_prefix_sharing)

    def alive(self) -> bool:
        return self.manager.is_running()

    def submit(self, input_ids: list[int], max_new_tokens: int, grammar=None) -> Ticket:
        """Queue a greedy request; `grammar` (a compiled xgrammar grammar) constrains every token it generates."""
        request_id = f"quire-{next(self._ids)}"
        ticket = Ticket(request_id=request_id, prompt_tokens=len(input_ids))
        with self._lock:
            self._tickets[request_id] = ticket
        if grammar is not None:
            self._grammars.add(request_id, grammar)
        added = self.manager.add_request(input_ids=list(input_ids), request_id=request_id, max_new_tokens=max_new_tokens, streaming=True)
        if added is None:
            self.forget(request_id)
            raise EngineUnavailableError("The continuous batch is stopping and takes no new requests.")
        return ticket

    def cached_tokens(self, request_id: str) -> int:
        with self._lock:
            return self._cached.get(request_id, 0)

    def cancel(self, request_id: str) -> None:
        self.manager.cancel_request(request_id)
        self.forget(request_id)

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._tickets.pop(request_id, None)
            self._cached.pop(request_id, None)
        self._grammars.discard(request_id)

    def _route(self) -> None:
        # One reader of the manager's shared output queue hands each output to its request's own queue;
        # get_result(request_id=...) would re-queue other threads' outputs and spin.
        while not self._closed.is_set():
            output = self.manager.get_result(timeout=0.05)
            if output is None:
                if not self.manager.is_running():
                    self._fail_all("The continuous-batching loop stopped unexpectedly (see the log for the cause).")
                    self._closed.wait(0.05)
                continue
            with self._lock:
                ticket = self._tickets.get(output.request_id)
            if ticket is not None:
                ticket.steps.put(Step(list(output.generated_tokens), output.is_finished(), output.error))

    def _fail_all(self, message: str) -> None:
        with self._lock:
            tickets = list(self._tickets.values())
            self._tickets.clear()
        for ticket in tickets:
            ticket.steps.put(Step([], True, message))

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self.manager.is_running():
            self.manager.stop(block=True, timeout=10, hard_stop=True)
        self._fail_all("The engine was closed.")

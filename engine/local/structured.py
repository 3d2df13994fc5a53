"""JSON-schema constrained decoding with xgrammar: check the schema before any compute, compile it
once per schema, hand out a fresh logits processor per call (the processor keeps matcher state)."""

from __future__ import annotations

import json
import threading
from typing import Any

from engine.api import InvalidRequestError


def schema_of(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema a request asks for, or None; anything malformed is an InvalidRequestError."""
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind != "json_schema":
        raise InvalidRequestError(f"response_format type {kind!r} is not supported; use 'json_schema'.")
    wrapper = response_format.get("json_schema")
    schema = wrapper.get("schema") if isinstance(wrapper, dict) else None
    if not isinstance(schema, dict):
        raise InvalidRequestError("response_format.json_schema.schema must be a JSON object.")
    try:
        import jsonschema

        jsonschema.validators.validator_for(schema).check_schema(schema)
    except ImportError:
        pass
    except jsonschema.SchemaError as error:
        raise InvalidRequestError(f"The JSON schema is malformed: {error.message}") from error
    return schema


class GrammarCache:
    def __init__(self, tokenizer, vocab_size: int) -> None:
        self._tokenizer = tokenizer
        self._vocab_size = vocab_size
        self._compiler = None
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def compile(self, schema: dict[str, Any]):
        import xgrammar as xgr

        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            if key in self._compiled:
                return self._compiled[key]
            if self._compiler is None:
                info = xgr.TokenizerInfo.from_huggingface(self._tokenizer, vocab_size=self._vocab_size)
                self._compiler = xgr.GrammarCompiler(info)
            try:
                # Compact JSON: with free whitespace a weak model can pad with spaces until max_tokens runs out.
                compiled = self._compiler.compile_json_schema(key, any_whitespace=False)
            except Exception as error:  # xgrammar raises RuntimeError/ValueError on schemas it cannot turn into a grammar
                raise InvalidRequestError(f"The JSON schema cannot be turned into a grammar: {error}") from error
            self._compiled[key] = compiled
            return compiled

    @staticmethod
    def processor(compiled):
        import xgrammar as xgr

        return xgr.contrib.hf.LogitsProcessor(compiled)


class BatchGrammars:
    """Grammar matchers for the requests in the shared continuous batch, keyed by request id.

    transformers' batch applies one set of logits processors to every row; a JSON-schema request needs its own
    matcher state. SharedBatch calls `constrain` on the scores just before the batch picks its tokens and
    `advance` with the tokens picked, from the batch's one generation thread, so each matcher sees its request's
    tokens in order. Rows of requests without a grammar are left untouched (greedy requests mix freely).
    """

    def __init__(self, eos_token_ids: list[int]) -> None:
        self._eos = list(eos_token_ids)
        self._matchers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def add(self, request_id: str, compiled) -> None:
        import xgrammar as xgr

        with self._lock:
            self._matchers[request_id] = xgr.GrammarMatcher(compiled)

    def discard(self, request_id: str) -> None:
        with self._lock:
            self._matchers.pop(request_id, None)

    def __bool__(self) -> bool:
        return bool(self._matchers)

    def constrain(self, row_request_ids: list[str], scores) -> list[tuple[int, Any]]:
        """Mask each constrained row of `scores` ([rows, vocab], in place) to the tokens its grammar allows next;
        returns the (row, matcher) pairs to advance once the tokens are chosen."""
        import xgrammar as xgr

        with self._lock:
            rows = [(row, self._matchers[rid]) for row, rid in enumerate(row_request_ids) if rid in self._matchers]
        if not rows:
            return rows
        vocab = scores.shape[-1]
        bitmask = xgr.allocate_token_bitmask(len(row_request_ids), vocab)
        masked, finished = [], []
        for row, matcher in rows:
            if matcher.is_terminated():
                finished.append(row)
            else:
                matcher.fill_next_token_bitmask(bitmask, row)
                masked.append(row)
        if masked:
            xgr.apply_token_bitmask_inplace(scores, bitmask.to(scores.device), vocab_size=vocab, indices=masked)
        for row in finished:
            # The grammar ended on a stop token the engine does not stop on (a tokenizer with several end
            # tokens): only the engine's own end tokens may follow, so the request ends now.
            keep = scores[row, self._eos].clone()
            scores[row].fill_(float("-inf"))
            scores[row, self._eos] = keep
        return rows

    @staticmethod
    def advance(rows: list[tuple[int, Any]], tokens: list[int]) -> None:
        for row, matcher in rows:
            if not matcher.is_terminated():
                matcher.accept_token(tokens[row])

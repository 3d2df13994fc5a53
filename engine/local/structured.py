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

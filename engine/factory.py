"""Builds an engine from a description of it: the one place the web app's settings, `python -m analysis` and
`engine serve` turn "which engine, with what" into an Engine.

Cheap to import, like engine.api: torch (engine.local) and httpx (engine.remote) are imported only when an
engine of that kind is built, so a web host without torch can describe, compare and cache specs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.api import Engine, EngineError

LOCAL = "local"
OPENAI = "openai"
KINDS = (LOCAL, OPENAI)
LOCAL_PREFIX = "local:"
# engine.remote.RemoteEngine's default wait for the next bytes of a reply (tests/engine/test_factory.py keeps
# the two equal without importing httpx here).
DEFAULT_TIMEOUT_S = 600.0


class EngineSpecError(EngineError):
    """An engine description that cannot name any engine (unknown kind, no model, a bad number)."""

    code = "engine_spec_invalid"


@dataclass(frozen=True)
class EngineSpec:
    """Which engine, with what. `kind` "local" loads `model` (a checkpoint folder or a cached hub id) into this
    process; "openai" talks to the OpenAI-compatible server at `base_url` about `model` (its name there).

    Fields of the other kind are ignored: a local engine has no URL, key, timeout or extra body, a server has no
    device, memory budget, batch size or prefix cache here. `max_context` is the local engine's planned context
    (default: the model's limit), or a server's context where its /v1/models does not report one.
    `max_batch_tokens` None keeps LocalEngine.from_pretrained's own default.
    """

    kind: Literal["local", "openai"]
    model: str
    device: str = "auto"
    memory_budget_bytes: int | None = None
    max_batch_tokens: int | None = None
    base_url: str = ""
    max_context: int | None = None
    extra_body: dict[str, Any] | None = field(default=None, hash=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    api_key: str | None = field(default=None, repr=False)  # never in logs or error pages
    prefix_cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EngineSpecError(f"Engine kind {self.kind!r} is not one of: {', '.join(KINDS)}.")
        for name in ("memory_budget_bytes", "max_batch_tokens", "max_context"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                raise EngineSpecError(f"The engine's {name} must be a positive whole number, not {value!r}.")
        if not isinstance(self.timeout_s, int | float) or self.timeout_s <= 0:
            raise EngineSpecError(f"The engine's timeout_s must be a positive number of seconds, not {self.timeout_s!r}.")
        if self.extra_body is not None and not isinstance(self.extra_body, dict):
            raise EngineSpecError("The engine's extra body must be a JSON object.")

    @classmethod
    def parse(cls, text: str, *, model: str | None = None, **options: Any) -> EngineSpec:
        """The command-line form: `local:DIR_OR_ID` (the in-process engine) or an OpenAI-compatible base URL
        (`engine serve`, vLLM, SGLang, llama.cpp's server), whose model name is `model` ("" when not given: the caller
        asks the server, as `python -m analysis` does, before building). `options` are further fields (device, max_context, extra_body, ...)."""
        text = (text or "").strip()
        if text.startswith(LOCAL_PREFIX):
            path = text[len(LOCAL_PREFIX):]
            if not path:
                raise EngineSpecError("A local engine needs a checkpoint folder or hub id after 'local:'.")
            return cls(kind=LOCAL, model=path, **options)
        if text.startswith(("http://", "https://")):
            return cls(kind=OPENAI, model=model or "", base_url=text, **options)
        raise EngineSpecError(f"An engine is local:DIR_OR_ID or an http(s) URL, not {text!r}.")

    def key(self) -> tuple:
        """Hashable and equal exactly when two specs build the same engine: for a per-process cache of engines."""
        return (self.kind, self.model, self.device, self.memory_budget_bytes, self.max_batch_tokens, self.base_url,
                self.max_context, json.dumps(self.extra_body, sort_keys=True), float(self.timeout_s), self.api_key,
                self.prefix_cache_dir)


def build_engine(spec: EngineSpec) -> Engine:
    """The engine `spec` describes; a local one is loaded now (minutes for a large model). Raises EngineSpecError
    for a spec that names no engine, and the engines' own EngineErrors (model not found, does not fit, ...)."""
    if not spec.model:
        raise EngineSpecError(f"A{'' if spec.kind == OPENAI else ' local'} engine needs a model name.")
    if spec.kind == LOCAL:
        from engine.local import LocalEngine

        options: dict[str, Any] = {}
        if spec.max_batch_tokens is not None:
            options["max_batch_tokens"] = spec.max_batch_tokens
        return LocalEngine.from_pretrained(spec.model, device=spec.device, memory_budget_bytes=spec.memory_budget_bytes,
                                           prefix_cache_dir=spec.prefix_cache_dir or None, context=spec.max_context,
                                           **options)
    if not spec.base_url:
        raise EngineSpecError("An OpenAI-compatible engine needs the server's base URL.")
    from engine.remote import RemoteEngine

    return RemoteEngine(spec.base_url, spec.model, api_key=spec.api_key or None, timeout_s=spec.timeout_s,
                        max_context=spec.max_context, extra_body=spec.extra_body)

"""OpenAI chat/completions JSON <-> the Engine protocol's types, for `engine serve`.

Pure mapping: no HTTP, no threads, no torch. A request the server cannot honour faithfully (n > 1,
logprobs, penalties, tools) is refused with InvalidRequestError rather than silently answered differently.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from engine.api import (
    CancelledError,
    ChatMessage,
    ContextOverflowError,
    EngineError,
    EngineUnavailableError,
    GenerationRequest,
    GenerationResult,
    InvalidRequestError,
    ModelNotFoundError,
)

CHAT = "chat"
COMPLETION = "completion"

# OpenAI's documented defaults, so a client that omits them gets what it would get from OpenAI.
DEFAULT_TEMPERATURE = 1.0
DEFAULT_MAX_TOKENS = 1024

# Options whose neutral value is accepted and anything else refused: the engine has no way to honour them.
_UNSUPPORTED: dict[str, Any] = {
    "logprobs": (None, False, 0),
    "top_logprobs": (None, 0),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "logit_bias": (None, {}),
    "tools": (None, []),
    "functions": (None, []),
    "echo": (None, False),
    "suffix": (None, ""),
    "best_of": (None, 1),
}


@dataclass(frozen=True)
class ParsedRequest:
    kind: str  # CHAT or COMPLETION
    generation: GenerationRequest
    stream: bool
    include_usage: bool
    return_token_ids: bool  # vLLM's extension: the generated token ids on each choice


# ---------------------------------------------------------------------------------------------- requests


def parse_chat(body: Any, *, served_model: str) -> ParsedRequest:
    body = _common_checks(body, served_model)
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise InvalidRequestError("`messages` must be a non-empty list of {role, content} objects.")
    messages = tuple(_message(item, index) for index, item in enumerate(raw))
    return _parsed(CHAT, body, messages=messages)


def parse_completion(body: Any, *, served_model: str) -> ParsedRequest:
    body = _common_checks(body, served_model)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise InvalidRequestError("`prompt` must be a string (one prompt per request; token-id prompts are not supported).")
    if not prompt:
        raise InvalidRequestError("`prompt` is empty.")
    return _parsed(COMPLETION, body, prompt=prompt)


def _common_checks(body: Any, served_model: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("`model` is required.")
    if model != served_model:
        raise ModelNotFoundError(f"The model `{model}` does not exist. This server serves `{served_model}`.")
    n = body.get("n")
    if n is not None and (_int(n, "n") != 1):
        raise InvalidRequestError("Only n=1 is supported: send one request per completion.")
    for key, neutral in _UNSUPPORTED.items():
        if key in body and body[key] not in neutral:
            raise InvalidRequestError(f"`{key}` is not supported by this server.")
    return body


def _message(item: Any, index: int) -> ChatMessage:
    if not isinstance(item, dict) or not isinstance(item.get("role"), str):
        raise InvalidRequestError(f"messages[{index}] must be an object with a string `role`.")
    role = "system" if item["role"] == "developer" else item["role"]  # OpenAI's newer name for system
    content = item.get("content")
    if content is None:
        content = ""
    elif isinstance(content, list):  # content parts: only text can be served
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise InvalidRequestError(f"messages[{index}].content: only text parts are supported.")
            texts.append(part["text"])
        content = "".join(texts)
    elif not isinstance(content, str):
        raise InvalidRequestError(f"messages[{index}].content must be a string or a list of text parts.")
    return ChatMessage(role=role, content=content)


def _parsed(kind: str, body: dict[str, Any], **what: Any) -> ParsedRequest:
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    max_tokens = DEFAULT_MAX_TOKENS if max_tokens is None else _int(max_tokens, "max_tokens")
    temperature = body.get("temperature")
    temperature = DEFAULT_TEMPERATURE if temperature is None else _number(temperature, "temperature")
    top_p = body.get("top_p")
    top_p = 1.0 if top_p is None else _number(top_p, "top_p")
    seed = body.get("seed")
    seed = None if seed is None else _int(seed, "seed")
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise InvalidRequestError("`stream` must be a boolean.")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise InvalidRequestError("`stream_options` must be an object.")
    generation = GenerationRequest(  # its own checks (max_tokens >= 1) raise InvalidRequestError
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        stop=_stop(body.get("stop")),
        seed=seed,
        response_format=_response_format(body.get("response_format")),
        **what,
    )
    return ParsedRequest(
        kind=kind,
        generation=generation,
        stream=stream,
        include_usage=bool(options.get("include_usage")),
        return_token_ids=bool(body.get("return_token_ids")),
    )


def _stop(stop: Any) -> tuple[str, ...]:
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,) if stop else ()
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(s for s in stop if s)
    raise InvalidRequestError("`stop` must be a string or a list of strings.")


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError("`response_format` must be an object.")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":  # any JSON object: the most permissive schema that still forces an object
        return {"type": "json_schema", "json_schema": {"name": "json_object", "schema": {"type": "object"}}}
    if kind == "json_schema":
        return value  # the engine validates the schema itself
    raise InvalidRequestError(f"response_format type {kind!r} is not supported; use 'text', 'json_object' or 'json_schema'.")


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"`{name}` must be an integer.")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"`{name}` must be a number.")
    return float(value)


# ---------------------------------------------------------------------------------------------- responses


def new_id(kind: str) -> str:
    return f"{'chatcmpl' if kind == CHAT else 'cmpl'}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
    }


def completion_body(parsed: ParsedRequest, result: GenerationResult, *, model: str) -> dict[str, Any]:
    """The whole answer of a non-streamed request."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": result.finish_reason, "logprobs": None}
    if parsed.kind == CHAT:
        choice["message"] = {"role": "assistant", "content": result.text}
    else:
        choice["text"] = result.text
    if parsed.return_token_ids:
        choice["token_ids"] = list(result.token_ids)
    return {
        "id": new_id(parsed.kind),
        "object": "chat.completion" if parsed.kind == CHAT else "text_completion",
        "created": now(),
        "model": model,
        "choices": [choice],
        "usage": usage(result.prompt_tokens, result.generated_tokens, result.cached_prompt_tokens),
    }


class ChunkWriter:
    """The events of one streamed answer, all with the same id and creation time."""

    def __init__(self, parsed: ParsedRequest, *, model: str) -> None:
        self.kind = parsed.kind
        self.model = model
        self.include_usage = parsed.include_usage
        self.id = new_id(parsed.kind)
        self.created = now()

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk" if self.kind == CHAT else "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            body["usage"] = None  # as OpenAI: null on every chunk but the last
        return body

    def opening(self) -> dict[str, Any] | None:
        """Chat streams start with the assistant's role and no text; completions have no such chunk."""
        if self.kind != CHAT:
            return None
        return self._chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}])

    def delta(self, text: str) -> dict[str, Any]:
        if self.kind == CHAT:
            return self._chunk([{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}])
        return self._chunk([{"index": 0, "text": text, "logprobs": None, "finish_reason": None}])

    def finish(self, finish_reason: str) -> dict[str, Any]:
        if self.kind == CHAT:
            return self._chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}])
        return self._chunk([{"index": 0, "text": "", "logprobs": None, "finish_reason": finish_reason}])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any] | None:
        if not self.include_usage:
            return None
        body = self._chunk([])
        body["usage"] = usage(prompt_tokens, completion_tokens)
        return body


# ---------------------------------------------------------------------------------------------- errors


def error_body(message: str, *, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def error_for(error: EngineError, *, max_context: int | None) -> tuple[int, dict[str, Any]]:
    """The HTTP status and OpenAI-style body for an engine error."""
    if isinstance(error, ContextOverflowError):
        # vLLM's wording, which OpenAI-compatible clients (ours included) recognise as a context overflow.
        limit = f"This model's maximum context length is {max_context} tokens. " if max_context else ""
        return 400, error_body(limit + error.message, kind="invalid_request_error", code="context_length_exceeded")
    if isinstance(error, InvalidRequestError):
        return 400, error_body(error.message, kind="invalid_request_error", code=error.code)
    if isinstance(error, ModelNotFoundError):
        return 404, error_body(error.message, kind="invalid_request_error", code="model_not_found")
    if isinstance(error, EngineUnavailableError):
        return 503, error_body(error.message, kind="service_unavailable_error", code=error.code)
    if isinstance(error, CancelledError):
        return 499, error_body(error.message, kind="cancelled", code=error.code)
    return 500, error_body(error.message, kind="server_error", code=error.code)


def internal_error_body() -> dict[str, Any]:
    return error_body("The server failed to answer this request; see its log.", kind="server_error", code="internal_error")

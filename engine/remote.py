"""The OpenAI-compatible client: one `Engine` over `engine serve`, vLLM, SGLang or DeepSeek's hosted API.

It speaks only HTTP: it must never import torch, and never put the API key into a message or a log line.

Transport: httpx directly, not the `openai` package (which is itself built on httpx). Three reasons:
- Cancelling a request has to close the connection even while the server is still reading a 1M-token
  prompt and has sent no byte yet; that needs the socket (see `_SocketBox`), which the openai client
  does not expose.
- `/tokenize` and the context length in `/v1/models` (`max_model_len`) are vLLM/SGLang extensions that
  the openai client's typed models drop or do not offer.
- The retry rules (which statuses, Retry-After, backoff) and the mapping to `EngineError` types belong
  in one place here; the openai client's built-in retries follow different rules (it also retries
  408/409) and would have to be switched off anyway.

Cancellation: `generate` returns a result with finish_reason "cancelled" and the text received so far
(it does not raise `CancelledError`), and `stream` simply stops yielding. In both cases the connection
is shut down at once so that the server (vLLM and SGLang abort a request whose client went away) stops
spending GPU time on it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from engine.api import (
    CancelToken,
    ContextOverflowError,
    EngineError,
    EngineUnavailableError,
    GenerationProgress,
    GenerationRequest,
    GenerationResult,
    InvalidRequestError,
    ModelNotFoundError,
    Stage,
    drain,
)

logger = logging.getLogger(__name__)

API_KEY_SETTING = "QUIRE_ENGINE_API_KEY"
TIMEOUT_SETTING = "QUIRE_ENGINE_TIMEOUT_S"
EXTRA_BODY_SETTING = "QUIRE_ENGINE_EXTRA_BODY"
# What each request sets itself, or leaves out on purpose: an extra body never supplies these.
_PROTOCOL_FIELDS = frozenset({"model", "messages", "prompt", "max_tokens", "temperature", "top_p", "stream",
                              "stream_options", "stop", "seed", "response_format"})

# Statuses worth another try: overload and gateway hiccups. 400/401/403/404/422 never change on retry.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A server may ask for any Retry-After; beyond this it is more likely a bug than a plan.
MAX_RETRY_AFTER_S = 600.0
CANCEL_POLL_S = 0.05

# vLLM: "This model's maximum context length is 32768 tokens. However, you requested ...";
# SGLang: "The input (N tokens) is longer than the model's context length (M tokens).";
# OpenAI-style hosted APIs use the vLLM wording or "context_length_exceeded".
_CONTEXT_WORDING = re.compile(
    r"maximum context length|context length|context window|context_length_exceeded"
    r"|prompt is too long|too many tokens|longer than the model",
    re.IGNORECASE,
)
# vLLM: "The model `x` does not exist."; DeepSeek's API: "Model Not Exist".
_MODEL_MISSING_WORDING = re.compile(
    r"model\b.{0,120}?(does not exist|not exist|not found)|no such model|unknown model|model_not_found",
    re.IGNORECASE | re.DOTALL,
)
# Keys under which servers report a model's context length in GET /v1/models.
# After a token count the server could not answer (down, overloaded: every retry spent), counts are estimated for
# this long before the server is asked again: planning one review counts a dozen texts in a second, and each would
# otherwise spend the whole retry schedule against a server that is not there.
_TOKENIZE_COOLDOWN_S = 60.0
_CONTEXT_LENGTH_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window")
# A request the server refuses by its schema (FastAPI/pydantic servers such as llama-cpp-python answer these
# with HTTP 500): the same request fails the same way every time, so it is never retried.
_VALIDATION_WORDING = re.compile(r"validation error|Input should be|should be '|literal_error", re.IGNORECASE)
# A server that takes `response_format` only as "text" or "json_object" (llama-cpp-python): JSON-schema output
# is asked for there as {"type": "json_object", "schema": ...}, which it compiles to a grammar.
_NO_JSON_SCHEMA_WORDING = re.compile(r"response_format.{0,200}(json_object|text)|json_schema.{0,200}not supported",
                                     re.IGNORECASE | re.DOTALL)
CONTEXT_SETTING = "QUIRE_ENGINE_MAX_CONTEXT"


# Failures before any response arrived: the server is down, restarting, or dropped an idle connection.
_CONNECTION_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


class _Cancelled(Exception):
    """Internal: the caller's cancel token was set while we waited or read."""


@dataclass
class _Tally:
    """What one streamed generation has produced so far."""

    parts: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    chunks: int = 0
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    cancelled: bool = False
    complete: bool = False  # [DONE] or a whole JSON answer arrived
    first_chunk_at: float | None = None


class _SocketBox:
    """Holds the socket of the one connection a generation uses, so that a cancel can shut it down.

    `shutdown` (unlike `close`) wakes a thread blocked in recv on that socket, which is what makes a
    cancel prompt even while the server is silent (prefilling). The socket is caught from httpx's
    connect trace, before any response byte arrives.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._shut = False

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            with self._lock:
                self._sock = sock
                if self._shut:
                    self._shutdown_locked()

    def capture(self, response: httpx.Response) -> None:
        """Falls back on the response's own stream, should the connect trace not have fired."""
        stream = response.extensions.get("network_stream")
        with self._lock:
            if self._sock is None and stream is not None:
                self._sock = stream.get_extra_info("socket")
                if self._shut:
                    self._shutdown_locked()

    def shutdown(self) -> None:
        with self._lock:
            self._shut = True
            self._shutdown_locked()

    def _shutdown_locked(self) -> None:
        if self._sock is None:
            return
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: nothing left to stop


class _CancelWatcher:
    """Polls a cancel token on a side thread and shuts the connection down when it is set."""

    def __init__(self, cancel: CancelToken, box: _SocketBox) -> None:
        self._cancel = cancel
        self._box = box
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quire-remote-cancel", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(CANCEL_POLL_S):
            if self._cancel.is_set():
                self._box.shutdown()
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _display_url(url: str) -> str:
    """The URL without any user:password part, fit for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _server_message(body: bytes) -> str:
    """The human part of an error body: OpenAI's error.message, vLLM/SGLang's message, FastAPI's detail."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:500] or "(empty body)"
    return _message_from_payload(payload) or text[:500]


def _message_from_payload(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if isinstance(error, str):
            return error
        for key in ("message", "detail"):
            if payload.get(key):
                value = payload[key]
                return value if isinstance(value, str) else json.dumps(value)
    return ""


class RemoteEngine:
    """An `Engine` reached over the OpenAI-compatible HTTP API.

    `base_url` is the server's root, with or without a trailing `/v1` (http://gpu-1:8000,
    https://api.deepseek.com). `timeout_s` bounds each wait for the next bytes, including the wait
    for the first token while the server reads the prompt, so it must cover the prefill of the
    longest document; `connect_timeout_s` bounds opening a connection. A request is tried
    `max_retries` more times on 429/500/502/503/504 and connection errors, after an exponential,
    jittered backoff from `backoff_base_s` (capped at `backoff_max_s`) or the server's Retry-After.
    `extra_body` is merged into every generation request for a server's own parameters (as the OpenAI client's
    `extra_body`): llama-cpp-python's server applies `repeat_penalty` 1.1 unless told otherwise, so greedy there
    is not argmax until `{"repeat_penalty": 1.0}` is sent. The protocol's own fields cannot be overridden by it.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 600,
        connect_timeout_s: float = 10,
        max_retries: int = 4,
        max_context: int | None = None,
        tokenizer: Any = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not base_url:
            raise InvalidRequestError("The engine needs a base URL (QUIRE_ENGINE_BASE_URL).")
        if not model:
            raise InvalidRequestError("The engine needs a model name (QUIRE_ENGINE_MODEL).")
        root = base_url.strip().rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        self._root = root
        self.base_url = _display_url(root)
        self.model_id = model
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.max_retries = max(0, int(max_retries))
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self._api_key = api_key or None
        if extra_body is not None and not isinstance(extra_body, dict):
            raise InvalidRequestError(f"The engine's extra body ({EXTRA_BODY_SETTING}) must be a JSON object.")
        self._extra_body = {k: v for k, v in (extra_body or {}).items() if k not in _PROTOCOL_FIELDS}
        self._tokenizer = tokenizer
        self._max_context = max_context
        self._models_checked = max_context is not None
        self._tokenize_available: bool | None = None  # None: not tried yet
        self._tokenize_path = "/tokenize"  # vLLM and SGLang; llama-cpp-python's is /extras/tokenize/count
        self._tokenize_retry_at = 0.0  # time.monotonic() before which a failed server is not asked to count again
        # "json_schema" until the server says it takes only json_object (then schemas travel inside that).
        self._schema_format = "json_schema"
        # Whether the last count_tokens answer was an estimate; before the first call, whether it will be.
        self.token_count_is_estimate = tokenizer is None
        # Built once: loading the CA bundle costs tens of milliseconds, and each generation opens a client.
        self._ssl_context = httpx.create_ssl_context()
        self._client = self._new_client()  # for the small calls; each generation opens its own

    # ---- the Engine protocol -------------------------------------------------------------------

    @property
    def max_context(self) -> int:
        """The model's context length: the constructor's value, else what GET /v1/models reports.

        Raises `EngineError` when neither is known (DeepSeek's hosted API does not report it). On
        Python 3.11 `isinstance(engine, Engine)` reads this property, and so asks the server, unless
        max_context was given.
        """
        if not self._models_checked:
            self._max_context = self._context_from_server()
            self._models_checked = True
        if self._max_context is None:
            raise EngineError(
                f"The engine at {self.base_url} does not report a context length for model "
                f"{self.model_id!r} (no max_model_len in GET /v1/models); give it: {CONTEXT_SETTING} in the web "
                "app, --max-context on the command line (the length the server was started with, e.g. llama.cpp's --n_ctx)."
            )
        return self._max_context

    def generate(
        self,
        request: GenerationRequest,
        on_progress: Callable[[GenerationProgress], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Runs one request to completion over a stream; a set `cancel` ends it with finish_reason "cancelled"."""
        return drain(self.stream(request, on_progress, cancel))

    def stream(
        self,
        request: GenerationRequest,
        on_progress: Callable[[GenerationProgress], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> Generator[str, None, GenerationResult]:
        """Yields the text deltas in order; stops (without raising) once `cancel` is set. Returns the whole
        result, as `generate` would have."""
        tally = _Tally()
        started = time.monotonic()
        yield from self._deltas(request, on_progress, cancel, tally)
        ended = time.monotonic()
        usage = tally.usage or {}
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if not cached:
            cached = usage.get("prompt_cache_hit_tokens")  # DeepSeek's hosted API reports it this way
        extra: dict[str, Any] = {
            "engine": "remote",
            "base_url": self.base_url,
            "usage_reported": tally.usage is not None,
            "total_seconds": ended - started,
        }
        if tally.first_chunk_at is not None:
            extra["time_to_first_chunk_seconds"] = tally.first_chunk_at - started
        if tally.reasoning:
            extra["reasoning_text"] = "".join(tally.reasoning)
        return GenerationResult(
            text="".join(tally.parts),
            token_ids=tuple(tally.token_ids),
            prompt_tokens=int(usage.get("prompt_tokens") or 0) or self._counted_prompt(request, tally),
            generated_tokens=int(usage.get("completion_tokens") or tally.chunks),
            finish_reason="cancelled" if tally.cancelled else (tally.finish_reason or "stop"),
            cached_prompt_tokens=int(cached or 0),
            extra=extra,
        )

    def count_tokens(self, text: str) -> int:
        """Counts tokens with, in order of preference, the tokenizer given to the constructor, the
        server's POST /tokenize (vLLM, SGLang), or `estimate_tokens` (about 4 characters a token).

        `token_count_is_estimate` tells afterwards whether this answer was the estimate.
        """
        if self._tokenizer is not None:
            self.token_count_is_estimate = False
            return len(self._tokenizer.encode(text))
        if self._tokenize_available is not False and time.monotonic() >= self._tokenize_retry_at:
            count = self._count_with_server(text)
            if count is not None:
                self.token_count_is_estimate = False
                return count
        self.token_count_is_estimate = True
        return self.estimate_tokens(text)

    @staticmethod
    def estimate_tokens(text: str) -> int:
        """A rough count for when no tokenizer is at hand: about 4 characters a token."""
        return len(text) // 4

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteEngine({self.base_url!r}, {self.model_id!r})"

    # ---- generation ----------------------------------------------------------------------------

    def _payload(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {
            **self._extra_body,
            "model": self.model_id,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            payload["stop"] = list(request.stop)
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.response_format is not None:
            payload["response_format"] = self._response_format(request.response_format)
        if request.prompt is not None:
            payload["prompt"] = request.prompt
            return "/v1/completions", payload
        payload["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        return "/v1/chat/completions", payload

    def _counted_prompt(self, request: GenerationRequest, tally: _Tally) -> int:
        """For a server that streams no usage (llama-cpp-python): the prompt's tokens as this engine counts them
        (the server's tokenizer where it has an endpoint), without the chat template's few tokens."""
        if tally.usage is not None or tally.cancelled:
            return 0
        texts = [request.prompt] if request.prompt is not None else [m.content for m in request.messages]
        return sum(self.count_tokens(text) for text in texts)

    def _response_format(self, wanted: dict[str, Any]) -> dict[str, Any]:
        schema = (wanted.get("json_schema") or {}).get("schema") if wanted.get("type") == "json_schema" else None
        if schema is not None and self._schema_format == "json_object":
            return {"type": "json_object", "schema": schema}
        return wanted

    def _deltas(
        self,
        request: GenerationRequest,
        on_progress: Callable[[GenerationProgress], None] | None,
        cancel: CancelToken | None,
        tally: _Tally,
    ) -> Iterator[str]:
        if cancel is not None and cancel.is_set():
            tally.cancelled = True
            return
        path, payload = self._payload(request)
        box = _SocketBox()
        # A fresh connection per generation, so that its socket is known from the connect on; the
        # handshake is nothing next to a generation's seconds or minutes.
        client = self._new_client()
        watcher = _CancelWatcher(cancel, box) if cancel is not None else None
        started = time.monotonic()
        try:
            try:
                try:
                    response = self._send(client, "POST", path, json_body=payload, stream=True, box=box, cancel=cancel)
                except EngineError as refused:
                    if not self._falls_back_to_json_object(request, refused):
                        raise
                    path, payload = self._payload(request)
                    response = self._send(client, "POST", path, json_body=payload, stream=True, box=box, cancel=cancel)
            except _Cancelled:
                tally.cancelled = True
                return
            box.capture(response)
            try:
                for event in self._events(response, tally):
                    if cancel is not None and cancel.is_set():
                        tally.cancelled = True
                        return
                    for delta in self._absorb(event, tally, path):
                        if tally.first_chunk_at is None:
                            tally.first_chunk_at = time.monotonic()
                        if on_progress is not None:
                            on_progress(self._progress(tally, request.max_tokens))
                        yield delta
            except (httpx.TransportError, httpx.StreamError) as exc:
                if cancel is not None and cancel.is_set():
                    tally.cancelled = True
                    return
                if isinstance(exc, httpx.TimeoutException):
                    raise self._timeout_error(path) from exc
                raise self._error(
                    EngineUnavailableError,
                    f"The connection to the engine at {self.base_url} (model {self.model_id!r}) broke "
                    f"after {time.monotonic() - started:.1f} s: {exc}",
                ) from exc
            finally:
                response.close()
            if cancel is not None and cancel.is_set():
                tally.cancelled = True
            elif not tally.complete and tally.finish_reason is None:
                raise self._error(
                    EngineUnavailableError,
                    f"The engine at {self.base_url} (model {self.model_id!r}) closed the stream before the "
                    f"answer was complete ({tally.chunks} chunks received)."
                    + (" A server that stops before its first token may have refused the prompt: check that it is "
                       f"not longer than the server's context ({CONTEXT_SETTING} must not exceed it)."
                       if tally.chunks == 0 else ""),
                )
        finally:
            if watcher is not None:
                watcher.stop()
            client.close()

    def _falls_back_to_json_object(self, request: GenerationRequest, refused: EngineError) -> bool:
        """Whether the server refused a JSON-schema `response_format` it would take as json_object; if so the
        engine asks that way from now on."""
        wanted = request.response_format or {}
        if self._schema_format != "json_schema" or wanted.get("type") != "json_schema":
            return False
        if not _NO_JSON_SCHEMA_WORDING.search(refused.message):
            return False
        logger.info("Engine at %s takes response_format json_object only; asking for the schema that way.", self.base_url)
        self._schema_format = "json_object"
        return True

    @staticmethod
    def _progress(tally: _Tally, max_tokens: int) -> GenerationProgress:
        # Servers that stream usage on every chunk give exact counts; otherwise a chunk is about a token.
        done = (tally.usage or {}).get("completion_tokens") or tally.chunks
        return GenerationProgress(stage=Stage.DECODE, done=min(int(done), max_tokens), total=max_tokens)

    def _events(self, response: httpx.Response, tally: _Tally) -> Iterator[dict[str, Any]]:
        """The JSON events of a server-sent-event stream; a plain JSON body counts as one event."""
        content_type = response.headers.get("content-type", "")
        if "application/json" in content_type:  # the server ignored stream=True
            tally.complete = True
            yield self._parse_event(response.read())
            return
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # blank separators, ": keep-alive" comments, "event:" lines
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                tally.complete = True
                return
            if data:
                yield self._parse_event(data)

    def _parse_event(self, data: str | bytes) -> dict[str, Any]:
        try:
            event = json.loads(data)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            raise self._error(
                EngineUnavailableError,
                f"The engine at {self.base_url} (model {self.model_id!r}) sent something that is not an "
                f"OpenAI-compatible answer: {str(data)[:200]!r}",
            )
        return event

    def _absorb(self, event: dict[str, Any], tally: _Tally, path: str) -> Iterator[str]:
        """Folds one event into the tally and yields its text, if any."""
        if "error" in event or event.get("object") == "error":
            error = event.get("error") if isinstance(event.get("error"), dict) else event
            code = error.get("code") if isinstance(error, dict) else None
            status = code if isinstance(code, int) else 500
            message = _message_from_payload(event) or json.dumps(event)[:500]
            raise self._status_error(status, message, path, attempts=1)
        if isinstance(event.get("usage"), dict):
            tally.usage = event["usage"]
        for choice in event.get("choices") or ():
            if choice.get("finish_reason"):
                tally.finish_reason = choice["finish_reason"]
            ids = choice.get("token_ids")
            if isinstance(ids, list):
                tally.token_ids.extend(int(i) for i in ids)
            holder = choice.get("delta") or choice.get("message") or {}
            reasoning = holder.get("reasoning_content") or holder.get("reasoning")
            if reasoning:
                tally.reasoning.append(reasoning)
            text = holder.get("content") if "delta" in choice or "message" in choice else choice.get("text")
            if text:
                tally.chunks += 1
                tally.parts.append(text)
                yield text

    # ---- the small calls -----------------------------------------------------------------------

    def _context_from_server(self) -> int | None:
        try:
            response = self._send(self._client, "GET", "/v1/models")
        except (ModelNotFoundError, InvalidRequestError):
            return None  # a server without /v1/models
        try:
            entries = response.json().get("data") or []
        except (ValueError, AttributeError):
            return None
        chosen = [e for e in entries if isinstance(e, dict) and e.get("id") == self.model_id]
        if not chosen and len(entries) == 1 and isinstance(entries[0], dict):
            chosen = entries  # a one-model server answering under another name
        for entry in chosen:
            for key in _CONTEXT_LENGTH_KEYS:
                if isinstance(entry.get(key), int) and entry[key] > 0:
                    return entry[key]
        return None

    def _count_with_server(self, text: str) -> int | None:
        bodies = {"/tokenize": {"model": self.model_id, "prompt": text, "add_special_tokens": False},
                  "/extras/tokenize/count": {"input": text}}
        try:
            response = self._send(self._client, "POST", self._tokenize_path, json_body=bodies[self._tokenize_path],
                                  missing_ok=True)
            if response is None and self._tokenize_path == "/tokenize":
                self._tokenize_path = "/extras/tokenize/count"  # llama-cpp-python's server
                response = self._send(self._client, "POST", self._tokenize_path, json_body=bodies[self._tokenize_path],
                                      missing_ok=True)
        except EngineError as exc:
            logger.warning("Token counts fall back to estimates for %.0f s: %s", _TOKENIZE_COOLDOWN_S, exc.message)
            self._tokenize_retry_at = time.monotonic() + _TOKENIZE_COOLDOWN_S
            return None
        if response is None:
            self._tokenize_available = False
            return None
        try:
            payload = response.json()
        except ValueError:
            self._tokenize_available = False
            return None
        if not self._models_checked and isinstance(payload.get("max_model_len"), int):
            self._max_context = payload["max_model_len"]
            self._models_checked = True
        if isinstance(payload.get("count"), int):
            self._tokenize_available = True
            return payload["count"]
        if isinstance(payload.get("tokens"), list):
            self._tokenize_available = True
            return len(payload["tokens"])
        self._tokenize_available = False
        return None

    # ---- transport -----------------------------------------------------------------------------

    def _new_client(self) -> httpx.Client:
        headers = {"Accept": "application/json, text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            headers=headers,
            verify=self._ssl_context,
            follow_redirects=False,
        )

    def _send(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        stream: bool = False,
        box: _SocketBox | None = None,
        cancel: CancelToken | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response | None:
        """Sends with retries and returns a successful response (still open when `stream`).

        With `missing_ok`, an endpoint the server lacks (404, 405, 501) answers None instead of raising.
        """
        url = self._root + path
        extensions = {"trace": box.trace} if box is not None else {}
        attempt = 0
        while True:
            attempt += 1
            try:
                request = client.build_request(method, url, json=json_body, extensions=extensions)
                response = client.send(request, stream=stream)
            except _CONNECTION_ERRORS as exc:
                if cancel is not None and cancel.is_set():
                    raise _Cancelled from exc
                if attempt > self.max_retries:
                    raise self._error(
                        EngineUnavailableError,
                        f"Cannot reach the engine at {self.base_url}: {exc or type(exc).__name__} "
                        f"(model {self.model_id!r}, {attempt} attempt{'s' if attempt > 1 else ''}).",
                    ) from exc
                delay = self._backoff_s(attempt)
                logger.warning("Engine at %s unreachable (%s); retrying in %.2f s.", self.base_url, exc, delay)
                self._sleep(delay, cancel)
                continue
            except httpx.TimeoutException as exc:
                if cancel is not None and cancel.is_set():
                    raise _Cancelled from exc
                raise self._timeout_error(path) from exc
            if response.status_code < 400:
                return response
            body = response.read()
            response.close()
            status = response.status_code
            if missing_ok and status in (404, 405, 501):
                return None
            message = _server_message(body)
            deterministic = _CONTEXT_WORDING.search(message) or _VALIDATION_WORDING.search(message)
            if status in RETRY_STATUSES and attempt <= self.max_retries and not deterministic:
                retry_after = _retry_after_s(response)
                delay = retry_after if retry_after is not None else self._backoff_s(attempt)
                logger.warning(
                    "Engine at %s answered HTTP %s; retrying in %.2f s (attempt %s of %s).",
                    self.base_url, status, delay, attempt + 1, self.max_retries + 1,
                )
                self._sleep(delay, cancel)
                continue
            raise self._status_error(status, message, path, attempts=attempt)

    def _backoff_s(self, attempt: int) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)

    @staticmethod
    def _sleep(seconds: float, cancel: CancelToken | None) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, CANCEL_POLL_S))

    # ---- errors --------------------------------------------------------------------------------

    def _error(self, kind: type[EngineError], message: str) -> EngineError:
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return kind(message)

    def _timeout_error(self, path: str) -> EngineError:
        return self._error(
            EngineUnavailableError,
            f"The engine at {self.base_url} (model {self.model_id!r}) sent nothing on {path} for "
            f"{self.timeout_s:g} s; a long document may need a larger {TIMEOUT_SETTING}.",
        )

    def _status_error(self, status: int, message: str, path: str, *, attempts: int) -> EngineError:
        where = f"engine at {self.base_url} (model {self.model_id!r})"
        if status in (401, 403):
            return self._error(
                EngineUnavailableError,
                f"The engine at {self.base_url} refused the API key (HTTP {status}: {message}); "
                f"check the {API_KEY_SETTING} setting.",
            )
        if status == 413:
            return self._error(
                InvalidRequestError,
                f"The request is larger than the {where} or a proxy in front of it accepts (HTTP 413): {message}",
            )
        if _CONTEXT_WORDING.search(message) and status < 500:
            return self._error(
                ContextOverflowError,
                f"The prompt does not fit the context of model {self.model_id!r} at {self.base_url} "
                f"(HTTP {status}): {message}",
            )
        if _MODEL_MISSING_WORDING.search(message) or (status == 404 and "model" in message.lower()):
            return self._error(
                ModelNotFoundError, f"The engine at {self.base_url} does not serve model {self.model_id!r}: {message}"
            )
        if status == 404:
            return self._error(InvalidRequestError, f"The {where} has no endpoint {path} (HTTP 404: {message}).")
        if 400 <= status < 500 and status != 429 or _VALIDATION_WORDING.search(message):
            return self._error(InvalidRequestError, f"The {where} rejected the request (HTTP {status}): {message}")
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return self._error(EngineUnavailableError, f"The {where} answered HTTP {status}{tries}: {message}")

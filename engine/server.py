"""`python -m engine serve`: an OpenAI-compatible HTTP server (Starlette on uvicorn) over any Engine.

Engine calls block, so each runs on a worker thread; concurrent HTTP requests therefore reach the engine
concurrently and LocalEngine serves their greedy requests in one shared batch. A client that goes away
cancels its engine call. This module must stay cheap to import (the CLI parser imports it): Starlette,
uvicorn and torch are imported only where an app is built or a server run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import openai_schema as schema
from engine.api import (
    CancelledError,
    Engine,
    EngineError,
    GenerationProgress,
    GenerationRequest,
    GenerationResult,
    InvalidRequestError,
    Stage,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

logger = logging.getLogger(__name__)

# Worker threads for engine calls at once: enough that requests pile into the engine's batch rather than
# queueing in front of it. Streams have their own threads and do not count against it.
DEFAULT_CONCURRENCY = 64
STATUS_CLIENT_CLOSED = 499  # nginx's "client closed request"; nobody reads it, but the access log does


class ServerStats:
    """Counters over engine calls, thread-safe; `max_in_flight` shows whether requests overlapped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed = 0
        self.cancelled = 0
        self.failed = 0
        self.prompt_tokens = 0
        self.generated_tokens = 0
        self.prefill_seconds = 0.0
        self.decode_seconds = 0.0

    @contextmanager
    def engine_call(self) -> Iterator[None]:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def count(self, outcome: str) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)

    def add_tokens(self, *, prompt: int, generated: int, prefill_s: float | None = None,
                   decode_s: float | None = None) -> None:
        with self._lock:
            self.prompt_tokens += prompt
            self.generated_tokens += generated
            self.prefill_seconds += prefill_s or 0.0
            self.decode_seconds += decode_s or 0.0

    def snapshot(self) -> dict[str, int | float]:
        with self._lock:
            return {
                "requests": self.requests,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "completed": self.completed,
                "cancelled": self.cancelled,
                "failed": self.failed,
                "prompt_tokens": self.prompt_tokens,
                "generated_tokens": self.generated_tokens,
                "prefill_seconds": round(self.prefill_seconds, 3),
                "decode_seconds": round(self.decode_seconds, 3),
            }


@dataclass
class _Tokens:
    """Token counts of a stream, from the engine's progress reports (stream() yields only text)."""

    prompt: int | None = None
    generated: int = 0

    def record(self, progress: GenerationProgress) -> None:
        if progress.stage == Stage.PREFILL:
            self.prompt = progress.total
        elif progress.stage == Stage.DECODE:
            self.generated = max(self.generated, progress.done)


def create_app(engine: Engine, *, max_concurrency: int = DEFAULT_CONCURRENCY) -> Starlette:
    """The ASGI app over `engine`; the caller owns the engine and closes it after the server stops."""
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    stats = ServerStats()
    limiter = anyio.CapacityLimiter(max_concurrency)

    class _CancellingStream(StreamingResponse):
        """Sets the cancel token however the response ends: Starlette may stop the body iterator mid-send
        on a disconnect without ever resuming (and so finalising) it."""

        def __init__(self, content: Any, cancel: threading.Event, **kwargs: Any) -> None:
            super().__init__(content, **kwargs)
            self._cancel = cancel

        async def __call__(self, scope, receive, send) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                self._cancel.set()

    def error_response(error: EngineError) -> Response:
        status, body = schema.error_for(error, max_context=_max_context(engine))
        return JSONResponse(body, status_code=status)

    def openai_errors(endpoint: Callable) -> Callable:
        """Turns the typed errors raised while answering into OpenAI-style error bodies, once, here."""

        async def wrapped(request: Request) -> Response:
            try:
                return await endpoint(request)
            except EngineError as error:
                return error_response(error)
            except Exception:
                logger.exception("Unexpected failure answering %s %s", request.method, request.url.path)
                return JSONResponse(schema.internal_error_body(), status_code=500)

        return wrapped

    async def read_json(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidRequestError(f"The request body is not valid JSON: {error}") from error

    # ------------------------------------------------------------------ the small endpoints

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": engine.model_id})

    async def models(request: Request) -> Response:
        entry = {"id": engine.model_id, "object": "model", "created": 0, "owned_by": "quire",
                 "max_model_len": _max_context(engine)}
        return JSONResponse({"object": "list", "data": [entry]})

    async def quire_stats(request: Request) -> Response:
        body = stats.snapshot()
        kv_usage = getattr(engine, "kv_usage", None)  # the local engine's paged cache; remote engines have none
        if callable(kv_usage):
            body["kv"] = kv_usage()
        return JSONResponse(body)

    # ------------------------------------------------------------------ generation

    @openai_errors
    async def chat_completions(request: Request) -> Response:
        parsed = schema.parse_chat(await read_json(request), served_model=engine.model_id)
        return await (stream if parsed.stream else complete)(request, parsed)

    @openai_errors
    async def completions(request: Request) -> Response:
        parsed = schema.parse_completion(await read_json(request), served_model=engine.model_id)
        return await (stream if parsed.stream else complete)(request, parsed)

    def generate_blocking(generation: GenerationRequest, cancel: threading.Event) -> GenerationResult:
        with stats.engine_call():
            try:
                result = engine.generate(generation, None, cancel)
            except CancelledError:
                stats.count("cancelled")
                raise
            except Exception:
                stats.count("failed")
                raise
        stats.count("cancelled" if result.finish_reason == "cancelled" else "completed")
        stats.add_tokens(prompt=result.prompt_tokens, generated=result.generated_tokens,
                         prefill_s=result.prefill_seconds, decode_s=result.decode_seconds)
        return result

    async def complete(request: Request, parsed: schema.ParsedRequest) -> Response:
        cancel = threading.Event()
        watcher = asyncio.ensure_future(_until_disconnected(request, cancel))
        try:
            # abandon_on_cancel: a server shutting down need not wait for the generation, only tell it to stop.
            result = await anyio.to_thread.run_sync(generate_blocking, parsed.generation, cancel, limiter=limiter,
                                                    abandon_on_cancel=True)
        except BaseException:
            cancel.set()
            raise
        finally:
            watcher.cancel()
        if result.finish_reason == "cancelled":
            return error_response(CancelledError("The client went away; the request was cancelled."))
        return JSONResponse(schema.completion_body(parsed, result, model=engine.model_id))

    def stream_blocking(generation: GenerationRequest, cancel: threading.Event, post: Callable[[str, Any], None]) -> None:
        """Runs engine.stream on this (dedicated) thread, posting ("ready" | "delta" | "end" | "error", value)."""
        tokens = _Tokens()
        ready = False

        def on_progress(progress: GenerationProgress) -> None:
            nonlocal ready
            tokens.record(progress)
            if not ready:  # the engine accepted the request: HTTP 200 may go out now
                ready = True
                post("ready", None)

        with stats.engine_call():
            try:
                pieces = []
                for piece in engine.stream(generation, on_progress, cancel):
                    pieces.append(piece)
                    post("delta", piece)
                if tokens.prompt is None:  # an engine without progress reports: count the text instead
                    tokens.prompt = _prompt_tokens_estimate(engine, generation)
                    tokens.generated = engine.count_tokens("".join(pieces))
                stats.count("cancelled" if cancel.is_set() else "completed")
                stats.add_tokens(prompt=tokens.prompt or 0, generated=tokens.generated)
                post("end", tokens)
            except CancelledError as error:
                stats.count("cancelled")
                post("error", error)
            except EngineError as error:
                stats.count("failed")
                post("error", error)
            except Exception as error:
                stats.count("failed")
                logger.exception("Unexpected failure in a streamed generation")
                post("error", error)

    async def stream(request: Request, parsed: schema.ParsedRequest) -> Response:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def post(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, (kind, value))
            except RuntimeError:  # the event loop is gone (server shut down): nobody to tell
                cancel.set()

        threading.Thread(
            target=stream_blocking, args=(parsed.generation, cancel, post), name="quire-serve-stream", daemon=True
        ).start()

        # Hold the status line until the engine has accepted the request, so that a refusal (context
        # overflow, bad schema) is an HTTP error and not an error event inside a 200 stream.
        watcher = asyncio.ensure_future(_until_disconnected(request, cancel))
        try:
            first = await events.get()
        except BaseException:
            cancel.set()
            raise
        finally:
            watcher.cancel()
        if first[0] == "error":
            error = first[1]
            if isinstance(error, EngineError):
                return error_response(error)
            return JSONResponse(schema.internal_error_body(), status_code=500)

        writer = schema.ChunkWriter(parsed, model=engine.model_id)
        max_tokens = parsed.generation.max_tokens

        async def sse() -> Any:
            event = first
            try:
                opening = writer.opening()
                if opening is not None:
                    yield _sse(opening)
                while True:
                    kind, value = event
                    if kind == "delta":
                        yield _sse(writer.delta(value))
                    elif kind == "end":
                        tokens: _Tokens = value
                        yield _sse(writer.finish("length" if tokens.generated >= max_tokens else "stop"))
                        usage = writer.usage(tokens.prompt or 0, tokens.generated)
                        if usage is not None:
                            yield _sse(usage)
                        yield b"data: [DONE]\n\n"
                        return
                    elif kind == "error":
                        if isinstance(value, EngineError):
                            _, body = schema.error_for(value, max_context=_max_context(engine))
                        else:
                            body = schema.internal_error_body()
                        yield _sse(body)
                        yield b"data: [DONE]\n\n"
                        return
                    event = await events.get()
            finally:
                cancel.set()  # a no-op once the engine has finished; stops it when the client left early

        return _CancellingStream(sse(), cancel, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    app = Starlette(routes=[
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/quire/stats", quire_stats, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
    ])
    app.state.engine = engine
    app.state.stats = stats
    return app


async def _until_disconnected(request: Any, cancel: threading.Event) -> None:
    """Waits for the client to go away, then sets `cancel`; the caller cancels this once it has answered.

    Only for use once the body has been read: after that, the server's receive() returns only a disconnect.
    """
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            cancel.set()
            return


def _sse(body: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _max_context(engine: Engine) -> int | None:
    try:
        return int(engine.max_context)
    except EngineError:
        return None


def _prompt_tokens_estimate(engine: Engine, generation: GenerationRequest) -> int:
    if generation.prompt is not None:
        return engine.count_tokens(generation.prompt)
    return sum(engine.count_tokens(m.content) for m in generation.messages)


# ---------------------------------------------------------------------------------------------- the CLI


def add_serve_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible HTTP API (chat/completions, completions, models)",
        description="Load a model into this process and serve it over an OpenAI-compatible HTTP API. "
        "One process: concurrent greedy requests share the engine's continuous batch.",
    )
    parser.add_argument("--model", required=True, help="checkpoint folder, or a hub id already in the local cache")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (the URL printed says which)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto")
    parser.add_argument("--memory-budget-gb", type=float, default=None, help="KV-cache budget; default: planned from free memory")
    parser.add_argument("--max-batch-tokens", type=int, default=2048, help="tokens per forward pass of the shared batch")
    parser.add_argument("--context", type=int, default=None,
                        help="tokens the memory plan must fit before loading; default: the model's limit")
    parser.add_argument("--prefix-cache-dir", default=None,
                        help="DeepSeek-V4: save document caches here so follow-up questions skip the prefill")
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from engine.factory import LOCAL, EngineSpec, build_engine

    budget = int(args.memory_budget_gb * (1 << 30)) if args.memory_budget_gb else None
    try:
        engine = build_engine(EngineSpec(kind=LOCAL, model=args.model, device=args.device, memory_budget_bytes=budget,
                                         max_batch_tokens=args.max_batch_tokens, prefix_cache_dir=args.prefix_cache_dir,
                                         max_context=args.context))
    except EngineError as error:
        print(f"python -m engine serve: error: {error.message}", file=sys.stderr)
        return 2

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started:
                port = self.servers[0].sockets[0].getsockname()[1] if self.servers else args.port
                host = f"[{args.host}]" if ":" in args.host else args.host
                print(f"Serving {engine.model_id} at http://{host}:{port}/v1 (context {engine.max_context} tokens)", flush=True)

    # One process, one engine: workers > 1 would load the model once per process and split the batch.
    config = uvicorn.Config(create_app(engine), host=args.host, port=args.port, log_level="info",
                            timeout_graceful_shutdown=5)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal; with the default
    # SIGTERM action that would kill the process before the engine is closed, so turn it into an exception.
    previous = signal.getsignal(signal.SIGTERM)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        Server(config).run()
    except KeyboardInterrupt:
        pass  # the shutdown was graceful: the re-raised signal only says why it happened
    except SystemExit as stop:  # uvicorn exits this way when it cannot bind the port
        return stop.code if isinstance(stop.code, int) else 1
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        engine.close()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt

"""RemoteEngine against a small OpenAI-compatible server on 127.0.0.1, over real HTTP (no mocked httpx).

Each test scripts the server's replies; the server records what it was sent and when a client hung up.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.api import (
    ChatMessage,
    ContextOverflowError,
    Engine,
    EngineError,
    EngineUnavailableError,
    GenerationRequest,
    InvalidRequestError,
    ModelNotFoundError,
)
from engine import remote
from engine.remote import RemoteEngine

MODEL = "deepseek-ai/DeepSeek-V4-Flash"
SECRET = "sk-test-very-secret-0123456789"


def chat(text: str = "Summarise the lease.", **kwargs) -> GenerationRequest:
    return GenerationRequest(messages=(ChatMessage("user", text),), **kwargs)


def chunk(text: str | None = None, *, finish: str | None = None, usage: dict | None = None, kind: str = "chat") -> dict:
    if usage is not None:
        return {"object": "chat.completion.chunk", "choices": [], "usage": usage}
    if kind == "chat":
        choice = {"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish}
    return {"object": "chat.completion.chunk", "choices": [choice]}


def answer_events(pieces, *, usage=None, finish="stop", kind="chat") -> list[dict]:
    events = [chunk(p, kind=kind) for p in pieces]
    events.append(chunk(None if kind == "chat" else "", finish=finish, kind=kind))
    usage = usage or {"prompt_tokens": 11, "completion_tokens": len(pieces), "total_tokens": 11 + len(pieces)}
    events.append(chunk(usage=usage))
    return events


class Event:
    """An Event that counts as a cancel token."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


# ---- the fake server ------------------------------------------------------------------------------


@dataclass
class Json:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Sse:
    events: list[Any]
    delay_s: float = 0.0  # between events
    first_delay_s: float = 0.0  # before the first event, as while a server prefills
    done: bool = True
    hold_headers: bool = False  # wait first_delay_s before the status line too


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class FakeOpenAI:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.disconnected_at: list[float] = []
        self.scripts: dict[str, deque] = {}
        self.models: list[dict] = [{"id": MODEL, "object": "model", "max_model_len": 1048576}]
        self.has_tokenize = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, path: str, *replies) -> None:
        self.scripts.setdefault(path, deque()).extend(replies)

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def reply_for(self, method: str, path: str, body: Any):
        queue = self.scripts.get(path)
        if queue:
            return queue.popleft()
        if path == "/v1/models":
            return Json({"object": "list", "data": self.models})
        if path == "/tokenize":
            if not self.has_tokenize:
                return Json({"detail": "Not Found"}, status=404)
            tokens = list(range(len(body["prompt"].split())))
            return Json({"tokens": tokens, "count": len(tokens), "max_model_len": 1048576})
        if path in ("/v1/chat/completions", "/v1/completions"):
            kind = "chat" if path.endswith("chat/completions") else "text"
            if body.get("stream"):
                return Sse(answer_events(["Hel", "lo", " world"], kind=kind))
            message = {"role": "assistant", "content": "Hello world"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            if kind == "text":
                choice = {"index": 0, "text": "Hello world", "finish_reason": "stop"}
            return Json({"choices": [choice], "usage": {"prompt_tokens": 11, "completion_tokens": 3}})
        return Json({"detail": "Not Found"}, status=404)

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._serve("GET", None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve("POST", json.loads(self.rfile.read(length) or b"null"))

            def _serve(self, method: str, body: Any) -> None:
                server.seen.append(Seen(method, self.path, dict(self.headers), body, time.monotonic()))
                reply = server.reply_for(method, self.path, body)
                try:
                    if isinstance(reply, Json):
                        self._send_json(reply)
                    else:
                        self._send_sse(reply)
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected_at.append(time.monotonic())

            def _send_json(self, reply: Json) -> None:
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _send_sse(self, reply: Sse) -> None:
                if reply.hold_headers and self._client_left_within(reply.first_delay_s):
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                if not reply.hold_headers and self._client_left_within(reply.first_delay_s):
                    return
                for i, event in enumerate(reply.events):
                    if i and self._client_left_within(reply.delay_s):
                        return
                    data = event if isinstance(event, str) else json.dumps(event)
                    self.wfile.write(f"data: {data}\n\n".encode())
                if reply.done:
                    self.wfile.write(b"data: [DONE]\n\n")

            def _client_left_within(self, seconds: float) -> bool:
                """Waits, watching the socket: a client that hung up makes it readable at EOF."""
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
                    if readable:
                        try:
                            gone = self.connection.recv(1, socket.MSG_PEEK) == b""
                        except OSError:
                            gone = True
                        if gone:
                            server.disconnected_at.append(time.monotonic())
                            return True
                return False

        return Handler


@pytest.fixture
def server():
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def make_engine(server):
    engines = []

    def make(**kwargs) -> RemoteEngine:
        kwargs.setdefault("backoff_base_s", 0.01)
        kwargs.setdefault("timeout_s", 10)
        engine = RemoteEngine(kwargs.pop("base_url", server.url), kwargs.pop("model", MODEL), **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- answers ---------------------------------------------------------------------------------------


def test_chat_answer_carries_text_usage_and_finish_reason(server, make_engine):
    server.script(
        "/v1/chat/completions",
        Sse(answer_events(["The rent ", "is 12,000."], usage={
            "prompt_tokens": 900, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 768},
        })),
    )
    result = make_engine().generate(chat(max_tokens=64, temperature=0.3, top_p=0.9, stop=("END",), seed=7))

    assert result.text == "The rent is 12,000."
    assert (result.prompt_tokens, result.generated_tokens, result.cached_prompt_tokens) == (900, 2, 768)
    assert result.finish_reason == "stop"
    assert result.token_ids == ()
    sent = server.requests_to("/v1/chat/completions")[0].body
    assert sent["model"] == MODEL
    assert sent["messages"] == [{"role": "user", "content": "Summarise the lease."}]
    sampling = (sent["max_tokens"], sent["temperature"], sent["top_p"], sent["stop"], sent["seed"])
    assert sampling == (64, 0.3, 0.9, ["END"], 7)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_length_finish_reason_is_reported(server, make_engine):
    server.script("/v1/chat/completions", Sse(answer_events(["a", "b"], finish="length")))
    assert make_engine().generate(chat(max_tokens=2)).finish_reason == "length"


def test_raw_prompt_goes_to_completions_endpoint(server, make_engine):
    result = make_engine().generate(GenerationRequest(prompt="Once upon a time", max_tokens=5))

    assert result.text == "Hello world"
    sent = server.requests_to("/v1/completions")[0].body
    assert sent["prompt"] == "Once upon a time" and "messages" not in sent
    assert not server.requests_to("/v1/chat/completions")


def test_response_format_json_schema_is_forwarded_exactly(server, make_engine):
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "findings",
            "schema": {"type": "object", "properties": {"quote": {"type": "string"}}, "required": ["quote"]},
        },
    }
    make_engine().generate(chat(response_format=response_format))

    assert server.requests_to("/v1/chat/completions")[0].body["response_format"] == response_format


def test_server_that_ignores_stream_still_answers(server, make_engine):
    server.script(
        "/v1/chat/completions",
        Json({
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Whole answer"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        }),
    )
    result = make_engine().generate(chat())

    assert (result.text, result.prompt_tokens, result.generated_tokens) == ("Whole answer", 5, 2)


def test_progress_reports_decode_chunks_out_of_max_tokens(server, make_engine):
    seen = []
    make_engine().generate(chat(max_tokens=50), on_progress=seen.append)

    assert [(p.stage, p.done, p.total) for p in seen] == [("decode", 1, 50), ("decode", 2, 50), ("decode", 3, 50)]


def test_stream_yields_deltas_in_order(server, make_engine):
    server.script("/v1/chat/completions", Sse(answer_events(["One", ", two", ", three", "."]), delay_s=0.01))

    assert list(make_engine().stream(chat())) == ["One", ", two", ", three", "."]


def test_stream_returns_the_whole_result_as_generate_would(server, make_engine):
    server.script("/v1/chat/completions", Sse(answer_events(["One", ", two", "."]), delay_s=0.01))
    pieces, seen = make_engine().stream(chat()), []
    with pytest.raises(StopIteration) as done:
        while True:
            seen.append(next(pieces))
    result = done.value.value
    assert seen == ["One", ", two", "."] and result.text == "One, two." and result.finish_reason == "stop"
    assert result.extra["engine"] == "remote" and result.extra["time_to_first_chunk_seconds"] >= 0


def test_base_url_may_end_in_v1(server, make_engine):
    assert make_engine(base_url=server.url + "/v1/").generate(chat()).text == "Hello world"


def test_stream_cut_short_is_an_error_not_an_answer(server, make_engine):
    server.script("/v1/chat/completions", Sse([chunk("partial")], done=False))

    with pytest.raises(EngineUnavailableError, match="before the answer was complete"):
        make_engine().generate(chat())


def test_error_event_inside_the_stream_is_mapped(server, make_engine):
    server.script(
        "/v1/chat/completions",
        Sse([chunk("x"), {"error": {"message": "This model's maximum context length is 8192 tokens.", "code": 400}}]),
    )
    with pytest.raises(ContextOverflowError):
        make_engine().generate(chat())


# ---- retries ---------------------------------------------------------------------------------------


def test_503_twice_then_success_retries_with_backoff(server, make_engine):
    busy = Json({"error": {"message": "Server overloaded"}}, status=503)
    server.script("/v1/chat/completions", busy, busy)

    result = make_engine(backoff_base_s=0.05).generate(chat())

    assert result.text == "Hello world"
    attempts = server.requests_to("/v1/chat/completions")
    assert len(attempts) == 3
    gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:])]
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05  # jittered 0.05 s, then 0.1 s, at least half of each


def rate_limited(*, retry_after: str) -> Json:
    return Json({"error": {"message": "Rate limit reached"}}, status=429, headers={"Retry-After": retry_after})


def test_429_with_retry_after_zero_retries_at_once(server, make_engine):
    server.script("/v1/chat/completions", rate_limited(retry_after="0"))

    started = time.monotonic()
    result = make_engine(backoff_base_s=5).generate(chat())  # Retry-After wins over a long backoff

    assert result.text == "Hello world"
    assert len(server.requests_to("/v1/chat/completions")) == 2
    assert time.monotonic() - started < 2


def test_retry_after_is_honoured(server, make_engine):
    server.script("/v1/chat/completions", rate_limited(retry_after="1"))

    make_engine(backoff_base_s=0.001).generate(chat())

    first, second = server.requests_to("/v1/chat/completions")
    assert second.at - first.at >= 0.95


def test_retries_give_up_with_the_last_status(server, make_engine):
    server.script("/v1/chat/completions", *[Json({"error": {"message": "Bad gateway"}}, status=502)] * 3)

    with pytest.raises(EngineUnavailableError, match=r"HTTP 502 after 3 attempts: Bad gateway"):
        make_engine(max_retries=2).generate(chat())


# ---- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 1048576 tokens. However, you requested 1050000 tokens.",  # vLLM
        "The input (1050000 tokens) is longer than the model's context length (1048576 tokens).",  # SGLang
    ],
)
def test_context_length_400_is_context_overflow_and_not_retried(server, make_engine, message):
    server.script("/v1/chat/completions", Json({"object": "error", "message": message, "code": 400}, status=400))

    with pytest.raises(ContextOverflowError) as caught:
        make_engine().generate(chat())

    assert message in caught.value.message and MODEL in caught.value.message
    assert len(server.requests_to("/v1/chat/completions")) == 1


def test_other_422_is_invalid_request_with_the_servers_message(server, make_engine):
    server.script(
        "/v1/chat/completions", Json({"detail": [{"loc": ["body", "top_p"], "msg": "must be <= 1"}]}, status=422)
    )
    with pytest.raises(InvalidRequestError, match="must be <= 1"):
        make_engine().generate(chat())
    assert len(server.requests_to("/v1/chat/completions")) == 1


def test_unknown_model_is_model_not_found_naming_model_and_url(server, make_engine):
    server.script(
        "/v1/chat/completions",
        Json({"object": "error", "message": "The model `nope` does not exist.", "code": 404}, status=404),
    )
    with pytest.raises(ModelNotFoundError) as caught:
        make_engine(model="nope").generate(chat())

    assert "'nope'" in caught.value.message and server.url in caught.value.message
    assert len(server.requests_to("/v1/chat/completions")) == 1


def test_connection_refused_is_engine_unavailable_quickly(make_engine):
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()

    with pytest.raises(EngineUnavailableError) as caught:
        make_engine(base_url=url, max_retries=1, api_key=SECRET).generate(chat())

    assert caught.value.message.startswith(f"Cannot reach the engine at {url}: ")
    assert SECRET not in str(caught.value)
    assert time.monotonic() - started < 2


def test_api_key_is_sent_as_bearer_and_never_appears_in_errors(server, make_engine):
    server.script(
        "/v1/chat/completions",
        Json({"error": {"message": f"Incorrect API key provided: {SECRET}", "type": "auth_error"}}, status=401),
    )
    with pytest.raises(EngineUnavailableError) as caught:
        make_engine(api_key=SECRET).generate(chat())

    assert server.requests_to("/v1/chat/completions")[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert len(server.requests_to("/v1/chat/completions")) == 1  # a wrong key stays wrong
    assert "QUIRE_ENGINE_API_KEY" in caught.value.message
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


# ---- cancellation ----------------------------------------------------------------------------------


def test_cancel_mid_stream_stops_reading_and_hangs_up_promptly(server, make_engine):
    server.script("/v1/chat/completions", Sse(answer_events([f"w{i} " for i in range(40)]), delay_s=0.1))  # ~4 s
    cancel = Event()
    cancelled_at = []

    def on_progress(progress):
        if progress.done == 3:
            cancel.set()
            cancelled_at.append(time.monotonic())

    started = time.monotonic()
    result = make_engine().generate(chat(max_tokens=100), on_progress=on_progress, cancel=cancel)

    assert result.finish_reason == "cancelled"
    assert result.text == "w0 w1 w2 "
    assert time.monotonic() - started < 1.0
    time.sleep(0.3)
    assert server.disconnected_at and server.disconnected_at[0] - cancelled_at[0] < 0.5


@pytest.mark.parametrize("hold_headers", [False, True], ids=["headers-sent", "headers-held"])
def test_cancel_while_the_server_is_still_prefilling_hangs_up(server, make_engine, hold_headers):
    server.script("/v1/chat/completions", Sse(answer_events(["late"]), first_delay_s=5, hold_headers=hold_headers))
    cancel = Event()
    threading.Timer(0.2, cancel.set).start()

    started = time.monotonic()
    result = make_engine().generate(chat(), cancel=cancel)

    assert result.finish_reason == "cancelled" and result.text == ""
    assert time.monotonic() - started < 1.0
    time.sleep(0.2)
    assert server.disconnected_at and server.disconnected_at[0] - started < 1.0


def test_cancel_stops_a_stream(server, make_engine):
    server.script("/v1/chat/completions", Sse(answer_events([f"w{i}" for i in range(40)]), delay_s=0.05))
    cancel = Event()
    received = []

    started = time.monotonic()
    for delta in make_engine().stream(chat(), cancel=cancel):
        received.append(delta)
        if len(received) == 2:
            cancel.set()

    assert received == ["w0", "w1"]
    assert time.monotonic() - started < 1.0


def test_cancel_set_before_the_request_sends_nothing(server, make_engine):
    cancel = Event()
    cancel.set()

    assert make_engine().generate(chat(), cancel=cancel).finish_reason == "cancelled"
    assert not server.requests_to("/v1/chat/completions")


# ---- context length and token counts ---------------------------------------------------------------


def test_max_context_comes_from_the_constructor_else_the_models_endpoint(server, make_engine):
    assert make_engine(max_context=4096).max_context == 4096
    assert not server.requests_to("/v1/models")

    engine = make_engine()
    assert engine.max_context == 1048576
    assert engine.max_context == 1048576
    assert len(server.requests_to("/v1/models")) == 1


def test_unknown_max_context_raises_a_clear_error(server, make_engine):
    server.models = [{"id": "deepseek-chat", "object": "model", "owned_by": "deepseek"}]  # as DeepSeek's API answers

    with pytest.raises(EngineError, match="does not report a context length"):
        make_engine(model="deepseek-chat").max_context


def test_count_tokens_uses_the_servers_tokenize_endpoint(server, make_engine):
    engine = make_engine()

    assert engine.count_tokens("one two three four") == 4
    assert engine.token_count_is_estimate is False
    sent = server.requests_to("/tokenize")[0].body
    assert sent == {"model": MODEL, "prompt": "one two three four", "add_special_tokens": False}


def test_count_tokens_falls_back_to_an_estimate_without_tokenize(server, make_engine):
    server.has_tokenize = False
    engine = make_engine()

    assert engine.count_tokens("x" * 400) == 100 == engine.estimate_tokens("x" * 400)
    assert engine.token_count_is_estimate is True
    engine.count_tokens("again")
    assert len(server.requests_to("/tokenize")) == 1  # a missing endpoint is asked about once


def test_a_server_that_cannot_count_is_not_asked_again_for_a_while(server, make_engine, monkeypatch):
    """Planning one review counts a dozen texts; against a server that is down, each count would spend the whole retry
    schedule. After one count fails, counts are estimates until the cool-off ends, then the server is asked again."""
    monkeypatch.setattr(remote, "_TOKENIZE_COOLDOWN_S", 0.5)
    server.script("/tokenize", *[Json({"error": {"message": "Server overloaded"}}, status=503)] * 2)
    engine = make_engine(max_retries=1)
    assert engine.count_tokens("x" * 400) == 100 and engine.token_count_is_estimate is True
    asked = len(server.requests_to("/tokenize"))
    assert asked == 2  # the first try and its one retry
    for _ in range(10):
        engine.count_tokens("x" * 40)
    assert len(server.requests_to("/tokenize")) == asked  # not asked again while cooling off
    time.sleep(0.6)
    assert engine.count_tokens("one two three") == 3 and engine.token_count_is_estimate is False  # back, and asked


def test_count_tokens_prefers_a_given_tokenizer(server, make_engine):
    class Chars:
        def encode(self, text):
            return list(text)

    engine = make_engine(tokenizer=Chars())

    assert engine.count_tokens("abcdef") == 6 and engine.token_count_is_estimate is False
    assert not server.requests_to("/tokenize")


def test_remote_engine_satisfies_the_engine_protocol(make_engine):
    assert isinstance(make_engine(max_context=8192), Engine)


def test_extra_body_reaches_the_server_but_never_overrides_the_protocols_fields(server, make_engine):
    """A server's own parameters (llama-cpp-python's repeat_penalty) travel in every generation request; the
    request's own model, messages and limits still come from the request."""
    engine = make_engine(extra_body={"repeat_penalty": 1.0, "model": "other", "max_tokens": 1, "stop": ["x"],
                                     "response_format": {"type": "json_object"}})
    engine.generate(chat())
    sent = server.requests_to("/v1/chat/completions")[0].body
    assert sent["repeat_penalty"] == 1.0
    assert sent["model"] == MODEL and sent["max_tokens"] == chat().max_tokens and sent["messages"]
    assert "stop" not in sent and "response_format" not in sent  # fields a request leaves out stay out
    with pytest.raises(InvalidRequestError, match="QUIRE_ENGINE_EXTRA_BODY"):
        make_engine(extra_body=["repeat_penalty"])

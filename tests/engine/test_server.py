"""`engine serve` over real HTTP: uvicorn on a loopback port in front of a LocalEngine on a tiny model,
driven by the official `openai` client. Same tokens as the engine itself, streaming, structured output,
batching of concurrent requests, OpenAI-style errors, and cancellation when a client goes away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import httpx
import openai
import uvicorn

from engine.api import ChatMessage, GenerationRequest
from engine.local import LocalEngine
from engine.server import create_app

pytestmark = pytest.mark.engine


BUDGET = 256 << 20
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine(tiny_dirs):
    opened = LocalEngine.from_pretrained(tiny_dirs["llama"], memory_budget_bytes=BUDGET, max_batch_tokens=512)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def widest_pass(engine):
    """The most requests the engine's batch put into one forward pass, seen from inside the batch.

    transformers' scheduler offers no such statistic; this wraps its schedule_batch on this engine's
    instance only (the same reach-in engine/local/batching.py makes for prefill progress).
    """
    scheduler = engine._batch.manager.batch_processor.scheduler
    original = scheduler.schedule_batch
    seen = {"max": 0}

    def schedule_batch(*args, **kwargs):
        scheduled = original(*args, **kwargs)
        if scheduled[0]:
            seen["max"] = max(seen["max"], len(scheduled[0]))
        return scheduled

    scheduler.schedule_batch = schedule_batch
    yield seen
    scheduler.schedule_batch = original


@contextmanager
def serving(app):
    """uvicorn on a free loopback port in a background thread, shut down on exit; yields the root URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = running.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "uvicorn did not shut down"


@pytest.fixture(scope="module")
def server(engine, widest_pass):
    app = create_app(engine)
    with serving(app) as root:
        yield SimpleNamespace(root=root, app=app, model=engine.model_id)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server.root}/v1", api_key="unused", max_retries=0, timeout=60)


def stats(server) -> dict:
    return httpx.get(f"{server.root}/v1/quire/stats").json()


def wait_for(predicate, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def long_prompt(engine, tokens: int) -> str:
    words = " ".join(f"clause {i} applies" for i in range(tokens // 2))
    while engine.count_tokens(words) < tokens:
        words += words
    return words


def test_health_and_models_report_the_served_model(server, engine, client):
    assert httpx.get(f"{server.root}/health").json() == {"status": "ok", "model": engine.model_id}
    listed = client.models.list().data
    assert [m.id for m in listed] == [engine.model_id]
    assert listed[0].owned_by == "quire" and listed[0].model_extra["max_model_len"] == engine.max_context


def test_chat_completion_equals_the_engine_token_for_token(server, engine, client):
    messages = [{"role": "system", "content": "You review leases."}, {"role": "user", "content": "Who pays the rent?"}]
    expected = engine.generate(GenerationRequest(messages=tuple(ChatMessage(**m) for m in messages), max_tokens=12))
    answer = client.chat.completions.create(
        model=server.model, messages=messages, max_tokens=12, temperature=0, extra_body={"return_token_ids": True}
    )
    choice = answer.choices[0]
    assert choice.message.content == expected.text and choice.message.role == "assistant"
    assert tuple(choice.model_extra["token_ids"]) == expected.token_ids
    assert choice.finish_reason == expected.finish_reason
    assert answer.usage.prompt_tokens == expected.prompt_tokens > 5
    assert answer.usage.completion_tokens == expected.generated_tokens
    assert answer.usage.total_tokens == expected.prompt_tokens + expected.generated_tokens
    assert answer.usage.prompt_tokens_details.cached_tokens >= 0
    assert answer.object == "chat.completion" and answer.model == server.model


def test_streamed_chat_joins_to_the_same_text_with_usage(server, engine, client):
    messages = [{"role": "user", "content": "Summarise the indemnity clause."}]
    expected = engine.generate(GenerationRequest(messages=(ChatMessage(**messages[0]),), max_tokens=20))
    chunks = list(client.chat.completions.create(
        model=server.model, messages=messages, max_tokens=20, temperature=0, stream=True,
        stream_options={"include_usage": True},
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected.text
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 2, "not streamed piece by piece"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [expected.finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == expected.prompt_tokens
    assert chunks[-1].usage.completion_tokens == expected.generated_tokens
    assert {c.id for c in chunks} == {chunks[0].id}


def test_completions_with_a_raw_prompt_streamed_and_not(server, engine, client):
    prompt = "The tenant shall pay"
    expected = engine.generate(GenerationRequest(prompt=prompt, max_tokens=10, stop=("zz",)))
    answer = client.completions.create(model=server.model, prompt=prompt, max_tokens=10, temperature=0, stop="zz")
    assert answer.choices[0].text == expected.text and answer.object == "text_completion"
    assert answer.usage.prompt_tokens == expected.prompt_tokens
    assert answer.usage.completion_tokens == expected.generated_tokens
    streamed = list(client.completions.create(model=server.model, prompt=prompt, max_tokens=10, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in streamed if c.choices) == expected.text
    assert streamed[-1].choices[0].finish_reason == expected.finish_reason


def test_json_schema_answer_parses_and_validates(server, client):
    import jsonschema
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}, "label": {"enum": ["yes", "no", "maybe"]}},
        "required": ["ok", "label"],
        "additionalProperties": False,
    }
    answer = client.chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": "Answer in JSON."}], max_tokens=64, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    )
    jsonschema.validate(json.loads(answer.choices[0].message.content), schema)
    assert answer.choices[0].finish_reason == "stop"
    loose = client.chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": "JSON please."}], max_tokens=48, temperature=0,
        response_format={"type": "json_object"}, stop=["}"],  # any object; the stop keeps the tiny model short
    )
    assert loose.choices[0].message.content.startswith("{")


def test_concurrent_requests_are_batched_and_faster_than_one_by_one(server, engine, client, widest_pass):
    prompts = [f"Clause {i}: the landlord may terminate when" + " the tenant defaults" * i for i in range(8)]

    def ask(prompt: str) -> str:
        return client.completions.create(model=server.model, prompt=prompt, max_tokens=24, temperature=0).choices[0].text

    started = time.monotonic()
    sequential = [ask(p) for p in prompts]
    sequential_s = time.monotonic() - started

    before = stats(server)
    widest_pass["max"] = 0
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(ask, prompts))
    concurrent_s = time.monotonic() - started
    after = stats(server)

    assert concurrent == sequential
    assert after["completed"] - before["completed"] == 8
    assert after["max_in_flight"] > 1, "the server never had two engine calls at once"
    assert widest_pass["max"] > 1, "the engine never put two requests into one forward pass"
    assert concurrent_s < sequential_s, (concurrent_s, sequential_s)
    print(f"\n8 requests: one by one {sequential_s:.2f} s, concurrent {concurrent_s:.2f} s; "
          f"widest forward pass {widest_pass['max']} requests; max in flight {after['max_in_flight']}")


def test_prompt_over_the_context_is_a_400_naming_the_maximum_context(server, engine, client):
    prompt = long_prompt(engine, engine.max_context + 100)
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model=server.model, prompt=prompt, max_tokens=8, temperature=0)
    message = refused.value.body["message"] if isinstance(refused.value.body, dict) else str(refused.value)
    assert "maximum context length" in message and str(engine.max_context) in message
    with pytest.raises(openai.BadRequestError, match="maximum context length"):  # streamed: refused before any 200
        client.completions.create(model=server.model, prompt=prompt, max_tokens=8, temperature=0, stream=True)


def test_wrong_model_is_a_404_and_bad_requests_are_400s(server, client):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    with pytest.raises(openai.BadRequestError, match="n=1"):
        client.chat.completions.create(model=server.model, messages=[{"role": "user", "content": "hi"}], max_tokens=4, n=2)
    malformed = httpx.post(f"{server.root}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["type"] == "invalid_request_error"
    bad_schema = httpx.post(f"{server.root}/v1/chat/completions", json={
        "model": server.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "objekt"}}},
    })
    assert bad_schema.status_code == 400 and "schema" in bad_schema.json()["error"]["message"]


def test_client_leaving_mid_stream_cancels_the_engine_call(server, engine):
    before = stats(server)
    body = {"model": server.model, "prompt": "Once upon a time", "max_tokens": 5000, "temperature": 0, "stream": True}
    pieces = 0
    started = time.monotonic()
    with httpx.stream("POST", f"{server.root}/v1/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            pieces += line.startswith("data:")
            if pieces >= 5:
                break
    assert wait_for(lambda: stats(server)["cancelled"] == before["cancelled"] + 1), stats(server)
    assert wait_for(lambda: stats(server)["in_flight"] == 0)
    assert time.monotonic() - started < 15  # 5000 tokens would take far longer: it stopped early
    assert wait_for(lambda: not engine._batch.manager.batch_processor.scheduler.active_requests)


def test_client_leaving_a_plain_request_cancels_it_too(server):
    before = stats(server)
    body = {"model": server.model, "prompt": "Once upon a time", "max_tokens": 5000, "temperature": 0}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.root}/v1/completions", json=body, timeout=httpx.Timeout(30, read=0.5))
    assert wait_for(lambda: stats(server)["cancelled"] == before["cancelled"] + 1), stats(server)
    assert wait_for(lambda: stats(server)["in_flight"] == 0)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_run_serve_prints_its_url_serves_and_stops_on_a_signal(tiny_dirs, stop):
    code = (
        "import argparse, sys; from engine.server import add_serve_parser\n"
        "parser = argparse.ArgumentParser(); add_serve_parser(parser.add_subparsers())\n"
        "args = parser.parse_args(sys.argv[1:]); sys.exit(args.handler(args))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--model", str(tiny_dirs["llama"]), "--port", "0", "--device", "cpu",
         "--memory-budget-gb", "0.0625"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Serving ") and " at http://127.0.0.1:" in line, line
        root = line.split(" at ")[1].split()[0].removesuffix("/v1")
        assert httpx.get(f"{root}/health", timeout=10).json()["status"] == "ok"
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_quire_remote_engine_is_served_the_same_answers(server, engine):
    from engine.api import ContextOverflowError
    from engine.remote import RemoteEngine

    with RemoteEngine(server.root, server.model, max_retries=0, timeout_s=60) as remote:
        assert remote.max_context == engine.max_context  # read from GET /v1/models
        request = GenerationRequest(messages=(ChatMessage("user", "Name the parties."),), max_tokens=16)
        expected, served = engine.generate(request), remote.generate(request)
        assert (served.text, served.prompt_tokens, served.generated_tokens, served.finish_reason) == (
            expected.text, expected.prompt_tokens, expected.generated_tokens, expected.finish_reason)
        with pytest.raises(ContextOverflowError):
            remote.generate(GenerationRequest(prompt=long_prompt(engine, engine.max_context + 100), max_tokens=8))


class Failing:
    """An Engine whose generate raises `error` and whose stream yields two pieces first."""

    model_id = "failing"
    max_context = 100

    def __init__(self, error: Exception) -> None:
        self.error = error

    def generate(self, request, on_progress=None, cancel=None):
        raise self.error

    def stream(self, request, on_progress=None, cancel=None):
        yield "half "
        yield "an answer"
        raise self.error

    def count_tokens(self, text):
        return len(text.split())


def test_engine_failures_become_openai_errors_and_hide_internals():
    from engine.api import EngineUnavailableError

    chat = {"model": "failing", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    with serving(create_app(Failing(RuntimeError("secret internals")))) as root:
        crashed = httpx.post(f"{root}/v1/chat/completions", json=chat)
        assert crashed.status_code == 500 and "secret" not in crashed.text
        assert crashed.json()["error"]["type"] == "server_error"
        client = openai.OpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIError) as broken:  # mid-stream: an error event after the 200
            for _ in client.chat.completions.create(**chat, stream=True):
                pass
        assert "secret" not in str(broken.value)
    with serving(create_app(Failing(EngineUnavailableError("The GPU is gone.")))) as root:
        unavailable = httpx.post(f"{root}/v1/chat/completions", json=chat)
        assert unavailable.status_code == 503 and unavailable.json()["error"]["message"] == "The GPU is gone."


def test_stats_count_tokens_and_seconds_and_show_the_kv_cache(server, client):
    before = stats(server)
    answer = client.completions.create(model=server.model, prompt="The tenant shall", max_tokens=6, temperature=0)
    after = stats(server)
    assert after["prompt_tokens"] - before["prompt_tokens"] == answer.usage.prompt_tokens
    assert after["generated_tokens"] - before["generated_tokens"] == answer.usage.completion_tokens
    assert after["prefill_seconds"] >= before["prefill_seconds"] and after["decode_seconds"] >= before["decode_seconds"]
    kv = after["kv"]
    assert kv["total_bytes"] > 0 and 0 <= kv["used_bytes"] <= kv["total_bytes"] and kv["page_size"] == 256

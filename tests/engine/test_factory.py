"""One engine factory: the command-line form parses to a spec, bad specs are refused with an EngineError, a local
spec loads a tiny model, a server spec builds a client without contacting any server, and the module stays cheap
to import (no torch, no httpx) for a web host."""

from __future__ import annotations

import inspect
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from engine.api import EngineError
from engine.factory import DEFAULT_TIMEOUT_S, EngineSpec, EngineSpecError, build_engine

REPO = Path(__file__).resolve().parents[2]


def test_the_command_line_forms_parse() -> None:
    local = EngineSpec.parse("local:/models/tiny-llama")
    assert (local.kind, local.model, local.device, local.base_url) == ("local", "/models/tiny-llama", "auto", "")
    assert EngineSpec.parse("local:Qwen/Qwen3-0.6B").model == "Qwen/Qwen3-0.6B"  # a hub id
    served = EngineSpec.parse("http://127.0.0.1:8001/v1", model="qwen", max_context=8192, extra_body={"a": 1})
    assert (served.kind, served.model, served.base_url) == ("openai", "qwen", "http://127.0.0.1:8001/v1")
    assert (served.max_context, served.extra_body, served.timeout_s) == (8192, {"a": 1}, DEFAULT_TIMEOUT_S)
    assert EngineSpec.parse("https://api.deepseek.com").model == ""  # the caller asks the server which


@pytest.mark.parametrize("text", ["", "   ", "local:", "ftp://host/v1", "qwen", "LOCAL:/x", "127.0.0.1:8001"])
def test_a_form_that_names_no_engine_is_refused(text: str) -> None:
    with pytest.raises(EngineSpecError) as info:
        EngineSpec.parse(text)
    assert isinstance(info.value, EngineError) and info.value.code == "engine_spec_invalid"


@pytest.mark.parametrize("options", [
    {"kind": "vllm"}, {"max_batch_tokens": 0}, {"memory_budget_bytes": -1}, {"max_context": "4096"},
    {"timeout_s": 0}, {"extra_body": ["repeat_penalty", 1.0]}, {"max_batch_tokens": True},
])
def test_a_spec_with_a_bad_field_is_refused(options: dict) -> None:
    with pytest.raises(EngineSpecError):
        EngineSpec(**{"kind": "local", "model": "m", **options})


@pytest.mark.parametrize("spec", [EngineSpec("local", ""), EngineSpec("openai", "", base_url="http://h/v1"),
                                  EngineSpec("openai", "m", base_url="")])
def test_building_a_spec_without_a_model_or_a_server_is_refused(spec: EngineSpec) -> None:
    with pytest.raises(EngineSpecError):
        build_engine(spec)


def test_the_key_tells_engines_apart_and_hides_nothing_that_matters() -> None:
    spec = EngineSpec("openai", "m", base_url="http://h/v1", extra_body={"b": 2, "a": 1}, api_key="secret")
    same = EngineSpec("openai", "m", base_url="http://h/v1", extra_body={"a": 1, "b": 2}, api_key="secret")
    assert spec.key() == same.key() and hash(spec.key()) == hash(same.key()) and hash(spec) == hash(same)
    for changed in (replace(spec, api_key="other"), replace(spec, extra_body={"a": 1}), replace(spec, timeout_s=5),
                    replace(spec, max_context=4096), replace(spec, model="n")):
        assert changed.key() != spec.key()
    assert "secret" not in repr(spec)


def test_the_default_timeout_is_the_clients_own() -> None:
    """The factory spells RemoteEngine's default out (to stay free of httpx); leaving it out must mean the same."""
    from engine.remote import RemoteEngine

    assert inspect.signature(RemoteEngine.__init__).parameters["timeout_s"].default == DEFAULT_TIMEOUT_S


def test_a_local_spec_passes_every_setting_and_keeps_the_default_batch(monkeypatch) -> None:
    from engine.local import LocalEngine

    calls = []
    monkeypatch.setattr(LocalEngine, "from_pretrained", classmethod(lambda cls, model, **kw: calls.append((model, kw))))
    build_engine(EngineSpec("local", "/m", device="cpu", memory_budget_bytes=1 << 20, max_batch_tokens=512,
                            max_context=4096, prefix_cache_dir="/tmp/p", base_url="ignored", api_key="ignored"))
    build_engine(EngineSpec("local", "/m", prefix_cache_dir=""))
    assert calls == [
        ("/m", {"device": "cpu", "memory_budget_bytes": 1 << 20, "prefix_cache_dir": "/tmp/p", "context": 4096,
                "max_batch_tokens": 512}),
        ("/m", {"device": "auto", "memory_budget_bytes": None, "prefix_cache_dir": None, "context": None}),
    ]


def test_a_local_spec_builds_a_tiny_model(tiny_dirs) -> None:
    from engine.api import ChatMessage, GenerationRequest
    from engine.local import LocalEngine

    folder = tiny_dirs["llama"]
    engine = build_engine(EngineSpec.parse(f"local:{folder}", device="cpu", memory_budget_bytes=64 << 20,
                                           max_batch_tokens=512))
    try:
        assert isinstance(engine, LocalEngine) and engine.model_id == str(folder)
        reply = engine.generate(GenerationRequest(messages=(ChatMessage("user", "Hello"),), max_tokens=4))
        assert 1 <= reply.generated_tokens <= 4 and reply.finish_reason in ("length", "stop")
    finally:
        engine.close()


def test_a_server_spec_builds_a_client_without_contacting_the_server() -> None:
    from engine.remote import RemoteEngine

    # Port 9 (discard) has nothing listening: any request would fail, so a built engine proves none was made.
    spec = EngineSpec("openai", "qwen", base_url="http://127.0.0.1:9/v1", max_context=8192, timeout_s=5,
                      api_key="k", extra_body={"repeat_penalty": 1.0}, device="cuda", memory_budget_bytes=1)
    engine = build_engine(spec)
    try:
        assert isinstance(engine, RemoteEngine)
        assert (engine.model_id, engine.base_url, engine.timeout_s) == ("qwen", "http://127.0.0.1:9", 5.0)
        assert engine.max_context == 8192  # given, so never asked of the server
    finally:
        engine.close()


def test_importing_the_factory_loads_neither_torch_nor_httpx() -> None:
    code = "import sys, engine.factory; sys.exit(sorted({'torch', 'httpx', 'transformers'} & set(sys.modules)) or 0)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)

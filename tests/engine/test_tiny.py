"""Tiny random-weight checkpoints load, tokenize, chat and generate through the real-checkpoint path."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from engine.__main__ import TINY_ARCHS, main
from engine.api import is_random_weight_checkpoint
from engine.tiny import ARCHS, build_tiny_model, cached_tiny_model
from engine.tokenizer_train import CHAT_TEMPLATE, cached_tokenizer, train_tokenizer

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT_FILES = ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json")
# NFC on purpose: Qwen2's tokenizer class (what AutoTokenizer picks for a qwen2 checkpoint, real or
# tiny) NFC-normalises input, so only NFC text round-trips byte for byte on every arch.
UNICODE_TEXT = unicodedata.normalize(
    "NFC",
    "Clause 7.2(b): the Licensee shall pay €1,250.00 — within 30 days.\n\n"
    "  Indented\ttab, naïve café, Straße, 日本語の契約書, עברית, emoji 🙂📄, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and trailing spaces   ",
)


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory) -> dict[str, str]:
    # A private cache: the tests start cold and leave the user's ~/.cache alone.
    return {**os.environ, "QUIRE_CACHE_DIR": str(tmp_path_factory.mktemp("quire-cache")), "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def cli_checkpoints(tmp_path_factory, cache_env) -> dict[str, Path]:
    """One CLI build per arch, all started at once: each pays torch's import time, so overlap them."""
    root = tmp_path_factory.mktemp("tiny")
    # Trained once here, not four times in parallel on a 2-core runner.
    cached_tokenizer(cache_dir=Path(cache_env["QUIRE_CACHE_DIR"]))
    processes = {
        arch: subprocess.Popen(
            [sys.executable, "-m", "engine", "tiny-model", "--arch", arch, "--out", str(root / arch), "--seed", "7"],
            cwd=REPO, env=cache_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for arch in ARCHS
    }
    for arch, process in processes.items():
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, f"{arch}: {stderr}"
        assert stdout.strip() == str(root / arch)
    return {arch: root / arch for arch in ARCHS}


@pytest.fixture(scope="module")
def loaded(cli_checkpoints):
    return {arch: (AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)) for arch, path in cli_checkpoints.items()}


def test_cli_offers_every_arch_the_builder_knows():
    assert TINY_ARCHS == ARCHS


@pytest.mark.parametrize("arch", ARCHS)
def test_cli_writes_a_checkpoint_that_auto_classes_load(arch, cli_checkpoints, loaded):
    path = cli_checkpoints[arch]
    for name in CHECKPOINT_FILES:
        assert (path / name).is_file(), name
    model, tokenizer = loaded[arch]
    assert model.config.model_type == arch
    assert model.config.vocab_size == len(tokenizer) == 4096
    assert model.config.max_position_embeddings == tokenizer.model_max_length == 131072
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    # Marked, so Quire can tell readers its findings mean nothing; a real checkpoint's folder has no marker.
    assert is_random_weight_checkpoint(path) and not is_random_weight_checkpoint(path.parent)


@pytest.mark.parametrize("arch", ARCHS)
def test_same_seed_gives_identical_weights(arch, cli_checkpoints, cache_env, tmp_path, monkeypatch):
    monkeypatch.setenv("QUIRE_CACHE_DIR", cache_env["QUIRE_CACHE_DIR"])
    again = build_tiny_model(arch, tmp_path / "again", seed=7)
    other = build_tiny_model(arch, tmp_path / "other", seed=8)
    cli_bytes = (cli_checkpoints[arch] / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == cli_bytes
    assert (other / "model.safetensors").read_bytes() != cli_bytes


@pytest.mark.parametrize("arch", ARCHS)
def test_tokenizer_round_trips_unicode_text(arch, loaded):
    _, tokenizer = loaded[arch]
    ids = tokenizer(UNICODE_TEXT, add_special_tokens=False)["input_ids"]
    assert max(ids) < len(tokenizer)
    assert tokenizer.decode(ids) == UNICODE_TEXT
    for token in ("<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>", "<|pad|>"):
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token


@pytest.mark.parametrize("arch", ARCHS)
def test_chat_template_renders_chatml_and_tokenizes(arch, loaded):
    _, tokenizer = loaded[arch]
    messages = [{"role": "system", "content": "You review contracts."}, {"role": "user", "content": "Who may terminate?"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|begin_of_text|><|im_start|>system\nYou review contracts.<|im_end|>\n"
        "<|im_start|>user\nWho may terminate?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert not tokenizer.apply_chat_template(messages, tokenize=False).endswith("<|im_start|>assistant\n")
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id  # once: the tokenizer itself adds no BOS
    assert ids[1] != tokenizer.bos_token_id
    assert ids.count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3
    assert tokenizer.decode(ids) == text


@pytest.mark.parametrize("arch", ARCHS)
def test_generation_config_stops_on_end_of_text_and_end_of_turn(arch, cli_checkpoints, loaded):
    _, tokenizer = loaded[arch]
    config = GenerationConfig.from_pretrained(cli_checkpoints[arch])
    assert set(config.eos_token_id) == {tokenizer.convert_tokens_to_ids("<|end_of_text|>"), tokenizer.convert_tokens_to_ids("<|im_end|>")}
    assert tokenizer.eos_token_id in config.eos_token_id
    assert config.pad_token_id == tokenizer.pad_token_id is not None
    assert config.bos_token_id == tokenizer.bos_token_id is not None


@pytest.mark.parametrize("arch", ARCHS)
def test_greedy_generate_runs_and_repeats(arch, loaded):
    model, tokenizer = loaded[arch]
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Summarise the termination clause."}], add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    first = model.generate(**inputs, do_sample=False, max_new_tokens=5)
    second = model.generate(**inputs, do_sample=False, max_new_tokens=5)
    prompt_length = inputs["input_ids"].shape[1]
    assert 1 <= first.shape[1] - prompt_length <= 5
    assert torch.equal(first, second)
    assert isinstance(tokenizer.decode(first[0, prompt_length:]), str)


def test_deepseek_v4_handles_a_prompt_past_its_window_and_compress_rate(loaded):
    """300 tokens: beyond the 128-token window, so compressed rows (every 4 and every 128) are read."""
    model, tokenizer = loaded["deepseek_v4"]
    assert set(model.config.layer_types) == {"sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention"}
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, len(tokenizer), (1, 300), generator=generator)
    output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False, max_new_tokens=3)
    assert output.shape[1] > 300
    # The hash-MoE table is random, not the all-zeros that routes every token to one expert.
    assert model.model.layers[0].mlp.gate.tid2eid.unique().numel() > 1


def test_bad_arch_exits_2_with_a_clear_message(cache_env):
    result = _run_cli("tiny-model", "--arch", "gpt2", "--out", "unused", env=cache_env)
    assert result.returncode == 2
    assert "invalid choice: 'gpt2'" in result.stderr and "deepseek_v4" in result.stderr
    assert "Traceback" not in result.stderr


def test_impossible_options_exit_2_without_a_traceback(tmp_path, capsys):
    assert main(["tiny-model", "--arch", "deepseek_v4", "--out", str(tmp_path / "x"), "--kv-heads", "2"]) == 2
    assert "--kv-heads must be 1" in capsys.readouterr().err
    assert main(["tiny-model", "--arch", "llama", "--out", str(tmp_path / "y"), "--hidden", "60", "--heads", "8"]) == 2
    assert "multiple of --heads" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_cached_tiny_model_builds_once_per_options(cache_env, monkeypatch):
    monkeypatch.setenv("QUIRE_CACHE_DIR", cache_env["QUIRE_CACHE_DIR"])
    first = cached_tiny_model("qwen3", seed=3)
    written = (first / "model.safetensors").stat().st_mtime_ns
    assert cached_tiny_model("qwen3", seed=3) == first
    assert cached_tiny_model("qwen3", seed=3, hidden=64, layers=2) == first  # defaults spelled out: same key
    assert (first / "model.safetensors").stat().st_mtime_ns == written
    assert cached_tiny_model("qwen3", seed=4) != first
    assert first.is_relative_to(Path(cache_env["QUIRE_CACHE_DIR"]) / "tiny-models")
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".building-")]
    assert AutoModelForCausalLM.from_pretrained(first).config.model_type == "qwen3"


def test_cached_tiny_model_survives_concurrent_builds(cache_env, monkeypatch):
    monkeypatch.setenv("QUIRE_CACHE_DIR", cache_env["QUIRE_CACHE_DIR"])
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(lambda _: cached_tiny_model("llama", seed=11), range(3)))
    assert len(set(paths)) == 1
    assert not [p for p in paths[0].parent.iterdir() if p.name.startswith(".building-")]
    assert AutoTokenizer.from_pretrained(paths[0]).decode([44]) is not None
    assert (paths[0] / "model.safetensors").is_file()


def test_tokenizer_trains_without_the_shared_corpus(tmp_path):
    tokenizer = train_tokenizer(vocab=512, corpus=tmp_path / "missing")
    assert 261 < len(tokenizer) <= 512
    assert tokenizer.decode(tokenizer(UNICODE_TEXT)["input_ids"]) == UNICODE_TEXT
    assert tokenizer.chat_template == CHAT_TEMPLATE

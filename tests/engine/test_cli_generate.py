"""`python -m engine generate` against transformers' own model.generate on tiny models and real contract text:
same greedy ids at 10, 1,000 and 8,000 prompt tokens, chunked prefill unchanged, one-line refusals with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

import torch
import transformers
from engine.cli_generate import generate_main  # noqa: E402

from tests.conftest import CORPUS as SHARED_CORPUS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CORPUS = SHARED_CORPUS / "cuad_train"
NEW_TOKENS = 64


@pytest.fixture(scope="module")
def references(tiny_dirs):
    """transformers' own model and tokenizer per architecture, loaded the plain way (sdpa, DynamicCache)."""
    loaded = {}
    for arch, path in tiny_dirs.items():
        model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
        loaded[arch] = (model, transformers.AutoTokenizer.from_pretrained(path))
    return loaded


@pytest.fixture(scope="module")
def contract_text() -> str:
    """Real CUAD contracts, concatenated in name order: well over 17,000 tokens of legal layout."""
    pieces, size = [], 0
    for path in sorted(CORPUS.glob("*.txt")):
        pieces.append(path.read_text(errors="replace"))
        size += len(pieces[-1])
        if size > 120_000:
            break
    return "\n\n".join(pieces)


def prompt_file(tmp_path: Path, tokenizer, text: str, n_tokens: int) -> Path:
    ids = tokenizer.encode(text, add_special_tokens=False)[:n_tokens]
    assert len(ids) == n_tokens, "the corpus is shorter than the prompt wanted"
    path = tmp_path / f"prompt-{n_tokens}.txt"
    path.write_text(tokenizer.decode(ids), encoding="utf-8")
    return path


def reference_ids(model, prompt_ids: list[int], max_new_tokens: int = NEW_TOKENS) -> list[int]:
    inputs = torch.tensor([prompt_ids])
    eos = model.generation_config.eos_token_id
    with torch.no_grad():
        out = model.generate(inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=eos if isinstance(eos, int) else eos[0])
    return out[0, len(prompt_ids):].tolist()


def run_json(capsys, *argv: str) -> dict:
    assert generate_main([*argv, "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, "--json prints exactly one line"
    return json.loads(out[0])


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
@pytest.mark.parametrize("prompt_tokens", [10, 1000, 8000])
def test_generate_greedy_ids_equal_model_generate(tiny_dirs, references, contract_text, tmp_path, capsys, arch, prompt_tokens):
    model, tokenizer = references[arch]
    path = prompt_file(tmp_path, tokenizer, contract_text, prompt_tokens)
    report = run_json(capsys, "--model", str(tiny_dirs[arch]), "--prompt-file", str(path), "--max-new-tokens", str(NEW_TOKENS))
    prompt_ids = tokenizer.encode(path.read_text(encoding="utf-8"), add_special_tokens=True)
    assert report["prompt_tokens"] == len(prompt_ids)
    assert abs(report["prompt_tokens"] - prompt_tokens) <= prompt_tokens * 0.02 + 2
    assert report["token_ids"] == reference_ids(model, prompt_ids)
    assert report["text"] == tokenizer.decode(report["token_ids"], skip_special_tokens=True)
    assert report["prefill_seconds"] > 0 and report["decode_seconds"] > 0
    assert report["peak_rss_bytes"] > 50 << 20
    # The cache is sized to this request: whatever it allocates beyond what the request holds is under one page.
    pages = -(-(report["prompt_tokens"] + len(report["token_ids"])) // 256)
    page_bytes = report["kv_bytes_used"] // pages
    assert report["kv_bytes_used"] <= report["kv_bytes"] < report["kv_bytes_used"] + page_bytes


def test_chunked_prefill_gives_unchunked_ids(tiny_dirs, references, contract_text, tmp_path, capsys):
    _, tokenizer = references["llama"]
    path = prompt_file(tmp_path, tokenizer, contract_text, 3000)
    argv = ("--model", str(tiny_dirs["llama"]), "--prompt-file", str(path), "--max-new-tokens", "32")
    chunked = run_json(capsys, *argv, "--prefill-chunk", "512")
    whole = run_json(capsys, *argv, "--prefill-chunk", "4096")  # one chunk holds the whole prompt
    assert whole["prompt_tokens"] < 4096
    assert chunked["token_ids"] == whole["token_ids"]
    assert len(chunked["token_ids"]) == 32


def test_chat_wraps_the_file_as_one_user_message(tiny_dirs, references, tmp_path, capsys):
    model, tokenizer = references["qwen2"]
    path = tmp_path / "question.txt"
    path.write_text("Which party may terminate this agreement?", encoding="utf-8")
    report = run_json(capsys, "--model", str(tiny_dirs["qwen2"]), "--prompt-file", str(path), "--chat", "--max-new-tokens", "16")
    templated = tokenizer.apply_chat_template([{"role": "user", "content": path.read_text()}], add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer.encode(templated, add_special_tokens=False)
    assert report["prompt_tokens"] == len(prompt_ids)
    assert report["token_ids"] == reference_ids(model, prompt_ids, 16)


def test_without_json_prints_the_generated_text(tiny_dirs, references, contract_text, tmp_path, capsys):
    _, tokenizer = references["llama"]
    path = prompt_file(tmp_path, tokenizer, contract_text, 50)
    argv = ["--model", str(tiny_dirs["llama"]), "--prompt-file", str(path), "--max-new-tokens", "12"]
    assert generate_main(argv) == 0
    plain = capsys.readouterr().out
    assert plain == run_json(capsys, *argv)["text"] + "\n"


def test_prompt_over_the_context_exits_2_naming_the_numbers(tiny_dirs, references, contract_text, tmp_path, capsys):
    _, tokenizer = references["llama"]
    path = prompt_file(tmp_path, tokenizer, contract_text, 17000)
    assert generate_main(["--model", str(tiny_dirs["llama"]), "--prompt-file", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error (context_overflow): ")
    prompt_tokens = len(tokenizer.encode(path.read_text(encoding="utf-8"), add_special_tokens=True))
    assert str(prompt_tokens) in lines[0] and str(prompt_tokens + 64) in lines[0] and "16384" in lines[0]


def test_real_process_prints_json_and_refuses_unknown_model_in_one_line(tiny_dirs, references, contract_text, tmp_path):
    model, tokenizer = references["qwen3"]
    path = prompt_file(tmp_path, tokenizer, contract_text, 1000)
    command = [sys.executable, "-m", "engine", "generate"]
    done = subprocess.run([*command, "--model", str(tiny_dirs["qwen3"]), "--prompt-file", str(path), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["token_ids"] == reference_ids(model, tokenizer.encode(path.read_text(encoding="utf-8"), add_special_tokens=True))
    assert "Traceback" not in done.stderr and "psutil" not in done.stderr

    missing = subprocess.run([*command, "--model", str(tmp_path / "no-such-model"), "--prompt-file", str(path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and missing.stdout == ""
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error (model_not_found): ") and "no-such-model" in lines[0]

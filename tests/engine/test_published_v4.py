"""DeepSeek-V4 as DeepSeek publishes V4-Flash (DeepSeek's tensor names, FP8 weights in 128x128 blocks with e8m0
scales, FP4 experts, sharded with an index, an extra MTP layer), reproduced by `engine tiny-model
--published-layout`: transformers reads every tensor and skips only the MTP layer; `engine generate` gives
transformers' greedy tokens and logits; kept FP8/FP4 (as on CUDA) the weights never get dequantized whole and
engine.v4 runs through transformers' FP8 modules; a broken folder is refused, naming the file, before any compute.

The model has 16 indexer heads for the same reason as tests/engine/test_v4.py: ties among exact-zero indexer
scores make few-head models pick differently from the reference.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

from engine.api import GenerationRequest
from engine.checkpoint_files import CheckpointError, inspect_checkpoint
from engine.cli_generate import generate_main
from engine.local import LocalEngine
from engine.model_plan import plan_model
from engine.published_layout import quantize_fp4_rows, quantize_fp8_blocks
from engine.v4.cache import CacheGeometry, Pools, SequenceCache
from engine.v4.engine import V4Engine
from engine.v4.forward import forward

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def published_dir() -> Path:
    from engine.tiny import cached_tiny_model

    return cached_tiny_model("deepseek_v4", heads=16, hidden=256, vocab=1024, max_context=16384, published_layout=True)


@pytest.fixture(scope="module")
def reference(published_dir):
    """transformers' own DeepseekV4ForCausalLM from the same files (dequantized at load on CPU), in float32."""
    return AutoModelForCausalLM.from_pretrained(published_dir, attn_implementation="eager").float().eval()


def _headers(directory: Path) -> dict[str, tuple[str, list[int]]]:
    found = {}
    for shard in sorted(directory.glob("model-*.safetensors")):
        with safe_open(str(shard), "pt") as handle:
            for name in handle.keys():
                piece = handle.get_slice(name)
                found[name] = (piece.get_dtype(), piece.get_shape())
    return found


def _dequantize(values: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    from transformers.integrations.finegrained_fp8 import Fp8Dequantize

    return Fp8Dequantize(None)._dequantize_one(values, scale, output_dtype=torch.float32)


def test_the_folder_is_laid_out_as_deepseek_ships_v4_flash(published_dir):
    config = json.loads((published_dir / "config.json").read_text())
    assert config["quantization_config"] == {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                             "weight_block_size": [128, 128], "scale_fmt": "ue8m0", "expert_dtype": "fp4"}
    assert config["num_nextn_predict_layers"] == 1
    index = json.loads((published_dir / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) == 3 and not (published_dir / "model.safetensors").exists()
    tensors = _headers(published_dir)
    assert set(tensors) == set(index["weight_map"])
    assert not any(name.startswith("model.") for name in tensors), "DeepSeek's names carry no model. prefix"
    hidden, inter = config["hidden_size"], config["moe_intermediate_size"]
    assert tensors["embed.weight"][0] == "BF16" and tensors["head.weight"][0] == "BF16"
    assert tensors["layers.1.attn.wq_a.weight"][0] == "F8_E4M3" and tensors["layers.1.attn.wq_a.scale"][0] == "F8_E8M0"
    # FP4 experts: two e2m1 values per byte, one scale per 32 inputs of a row.
    assert tensors["layers.1.ffn.experts.0.w1.weight"] == ("I8", [inter, hidden // 2])
    assert tensors["layers.1.ffn.experts.0.w1.scale"] == ("F8_E8M0", [inter, hidden // 32])
    assert tensors["layers.1.ffn.experts.3.w2.weight"] == ("I8", [hidden, inter // 2])
    # The projections V4-Flash ships in BF16, and the hash layer's routing table.
    assert tensors["layers.1.attn.compressor.wkv.weight"][0] == "BF16"
    assert tensors["layers.1.attn.indexer.weights_proj.weight"][0] == "BF16"
    assert tensors["layers.0.ffn.gate.tid2eid"][0] == "I64"
    layers = config["num_hidden_layers"]
    assert any(name.startswith("mtp.0.") for name in tensors)
    assert not any(name.startswith(f"layers.{layers}.") for name in tensors)


def test_the_quantizers_write_what_transformers_reads_back():
    generator = torch.Generator().manual_seed(3)
    weight = torch.randn(256, 384, generator=generator) * 0.05
    values, scale = quantize_fp8_blocks(weight)
    assert values.dtype == torch.float8_e4m3fn and scale.shape == (2, 3) and scale.dtype == torch.float8_e8m0fnu
    fp8_error = ((_dequantize(values, scale) - weight).norm() / weight.norm()).item()
    assert fp8_error < 0.04  # e4m3 keeps 3 mantissa bits: about 2.6% here
    packed, scale = quantize_fp4_rows(weight)
    assert packed.dtype == torch.int8 and packed.shape == (256, 192) and scale.shape == (256, 12)
    fp4_error = ((_dequantize(packed, scale) - weight).norm() / weight.norm()).item()
    assert fp4_error < 0.15  # e2m1 with power-of-two scales: about 11%; a swapped nibble order gives over 100%
    exact = torch.tensor([[0.5, -1.0, 6.0, -0.0] * 8])  # e2m1 values under a scale of 1 come back exactly
    assert torch.equal(_dequantize(*quantize_fp4_rows(exact)), exact)
    with pytest.raises(ValueError, match="under 128 or a multiple of it"):
        quantize_fp8_blocks(torch.zeros(192, 128))


def test_transformers_loads_every_tensor_and_skips_only_the_mtp_layer(published_dir):
    model, info = AutoModelForCausalLM.from_pretrained(published_dir, attn_implementation="eager", output_loading_info=True)
    assert info == {"missing_keys": set(), "unexpected_keys": set(), "mismatched_keys": set(), "error_msgs": []}
    sinks = model.model.layers[1].self_attn.sinks
    assert sinks.abs().sum() > 0, "the checkpoint's sinks were read, not left at their zero initialisation"


def test_engine_generate_gives_transformers_greedy_tokens_and_logits(published_dir, reference, tmp_path, capsys):
    engine = LocalEngine.from_pretrained(published_dir, device="cpu", max_batch_tokens=300)
    assert isinstance(engine, V4Engine)
    ids = torch.randint(0, reference.config.vocab_size, (700,), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = reference(ids.view(1, -1), use_cache=False).logits[0]
    cache = SequenceCache.empty(Pools(CacheGeometry.from_model(engine.model)))
    ours = torch.cat([forward(engine.model, ids[s:s + 300], cache, all_logits=True) for s in range(0, 700, 300)])
    assert (ours - expected).abs().max().item() <= 1e-4
    engine.close()

    prompt = tmp_path / "prompt.txt"
    prompt.write_text((ROOT / "README.md").read_text(encoding="utf-8")[:3000], encoding="utf-8")
    assert generate_main(["--model", str(published_dir), "--prompt-file", str(prompt), "--max-new-tokens", "24", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    prompt_ids = engine.tokenizer(prompt.read_text(encoding="utf-8"))["input_ids"]
    assert report["prompt_tokens"] == len(prompt_ids) > 500
    with torch.no_grad():
        out = reference.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                                 max_new_tokens=24, do_sample=False, pad_token_id=0)
    assert report["token_ids"] == out[0, len(prompt_ids):].tolist() and len(report["token_ids"]) >= 1


def _keep_quantized():
    """What transformers does on a GPU of compute capability 9.0 (H100/H200), on this CPU: FP8/FP4 weights stay."""
    return mock.patch("torch.cuda.is_available", return_value=True), mock.patch("torch.cuda.get_device_capability", return_value=(9, 0))


def test_kept_quantized_the_weights_stay_fp8_and_fp4_and_engine_v4_runs_through_fp8_modules(published_dir, reference):
    import transformers.integrations.finegrained_fp8 as fp8

    available, capability = _keep_quantized()
    with available, capability:
        kept = AutoModelForCausalLM.from_pretrained(published_dir, dtype=torch.float32, attn_implementation="eager",
                                                    device_map="cpu").eval()
    layer = kept.model.layers[1]
    assert isinstance(layer.self_attn.q_a_proj, fp8.FP8Linear) and layer.self_attn.q_a_proj.weight.dtype == torch.float8_e4m3fn
    assert isinstance(layer.mlp.experts, fp8.FP8Experts) and layer.mlp.experts.gate_up_proj.dtype == torch.int8
    assert not isinstance(layer.self_attn.compressor.kv_proj, fp8.FP8Linear)  # shipped in BF16
    with available, capability:  # as the engine loads it on CUDA: bfloat16 around the FP8/FP4 weights
        as_on_cuda = AutoModelForCausalLM.from_pretrained(published_dir, dtype=torch.bfloat16, attn_implementation="eager",
                                                          device_map="cpu")
    stored = sum(t.numel() * t.element_size() for t in [*as_on_cuda.parameters(), *as_on_cuda.buffers()])
    with available, capability, mock.patch("engine.model_plan._devices", return_value=[]):
        assert plan_model(published_dir, device="cuda").weights_bytes == stored, "the plan is what loading allocates"
    del as_on_cuda

    # CUDA's FP8 kernels replaced by a CPU stand-in that dequantizes one weight at a time: engine.v4 must reach
    # every quantized projection and expert through the modules' own forward.
    calls = {"linear": 0, "grouped": 0}

    def linear(input, weight, scale, *args, **kwargs):
        calls["linear"] += 1
        bias = args[1] if len(args) > 1 else None
        return torch.nn.functional.linear(input, _dequantize(weight, scale).to(input.dtype), bias)

    def grouped(input, weight, scale, offsets, tokens_per_expert, block_size):
        calls["grouped"] += 1
        outs, start = [], 0
        for group, end in enumerate(offsets.tolist()):
            outs.append(input[start:end] @ _dequantize(weight[group], scale[group]).to(input.dtype).T)
            start = end
        return torch.cat(outs)

    ids = torch.randint(0, reference.config.vocab_size, (300,), generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        expected = reference(ids.view(1, -1), use_cache=False).logits[0]
    with mock.patch.object(fp8, "fp8_linear", linear), mock.patch.object(fp8, "fp8_grouped_matmul", grouped):
        cache = SequenceCache.empty(Pools(CacheGeometry.from_model(kept)))
        ours = torch.cat([forward(kept, ids[s:s + 150], cache, all_logits=True) for s in range(0, 300, 150)])
    assert calls["linear"] > 0 and calls["grouped"] > 0
    assert (ours - expected).abs().max().item() <= 1e-4
    assert layer.self_attn.q_a_proj.weight.dtype == torch.float8_e4m3fn, "nothing was dequantized in place"


@pytest.fixture
def broken(published_dir, tmp_path) -> Path:
    copy = tmp_path / "checkpoint"
    shutil.copytree(published_dir, copy)
    return copy


def _edit_config(directory: Path, **changes) -> None:
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


BREAKAGES = {
    "missing shard": (lambda d: (d / "model-00002-of-00003.safetensors").unlink(), "model-00002-of-00003.safetensors is missing"),
    "truncated shard": (lambda d: _truncate(d / "model-00003-of-00003.safetensors"), "model-00003-of-00003.safetensors is truncated"),
    "unknown quant_method": (lambda d: _edit_config(d, quantization_config={"quant_method": "fp3"}), "config.json: quantization_config.quant_method 'fp3'"),
    "more layers than tensors": (lambda d: _edit_config(d, num_hidden_layers=5, layer_types=["sliding_attention"] * 5,
                                                        mlp_layer_types=["moe"] * 5), "num_hidden_layers=5"),
    "another vocabulary": (lambda d: _edit_config(d, vocab_size=2048), "vocab_size=2048"),
    "index naming a tensor its shard lacks": (lambda d: _retarget_index(d), "does not hold it"),
}


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _retarget_index(directory: Path) -> None:
    path = directory / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    index["weight_map"]["embed.weight"] = "model-00003-of-00003.safetensors"
    path.write_text(json.dumps(index))


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_checkpoint_is_refused_naming_the_file_before_any_compute(broken, breakage, monkeypatch):
    damage, expected = BREAKAGES[breakage]
    damage(broken)
    with pytest.raises(CheckpointError, match=expected.replace("(", r"\(").replace(".", r"\.")) as caught:
        inspect_checkpoint(broken)
    assert str(broken) in caught.value.message

    def never(*args, **kwargs):
        raise AssertionError("weights were read from a checkpoint already known to be broken")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", never)
    with pytest.raises(CheckpointError) as again:
        LocalEngine.from_pretrained(broken, device="cpu")
    assert again.value.message == caught.value.message


def test_engine_generate_says_a_broken_checkpoint_in_one_line(broken, tmp_path):
    (broken / "model-00001-of-00003.safetensors").unlink()
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Hello", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "engine", "generate", "--model", str(broken), "--prompt-file", str(prompt)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error (checkpoint_invalid): {broken / 'model-00001-of-00003.safetensors'} is missing: "
        "model.safetensors.index.json lists tensors in it."]


def test_engine_serve_starts_on_the_published_layout_and_answers(published_dir):
    import httpx

    server = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", str(published_dir), "--port", "0",
                               "--device", "cpu"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, url = time.monotonic() + 120, None
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line and server.poll() is not None:
                break
            if line.startswith("Serving "):
                url = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert url, "engine serve did not start"
        reply = httpx.post(f"{url}/chat/completions", timeout=60, json={
            "model": str(published_dir), "messages": [{"role": "user", "content": "Read this."}], "max_tokens": 5})
        assert reply.status_code == 200, reply.text
        assert reply.json()["usage"]["completion_tokens"] >= 1
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_engine_serve_refuses_a_model_that_does_not_fit_with_the_plan(published_dir):
    done = subprocess.run([sys.executable, "-m", "engine", "serve", "--model", str(published_dir), "--device", "cpu",
                           "--context", str(1 << 40)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "needs about" in done.stderr and "GiB short" in done.stderr and "Traceback" not in done.stderr

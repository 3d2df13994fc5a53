"""`engine plan` and engine.model_plan: the memory a checkpoint needs, from config.json alone, against what this
machine has. V4-Flash's published config (transformers' default DeepseekV4Config with its FP8/FP4 quantization)
must come out at the published 150-160 GB; a tiny model's plan must equal what loading it allocates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import transformers

from engine.model_plan import DeviceMemory, plan_model

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
H200 = DeviceMemory("NVIDIA H200", total_bytes=150_754_820_096, free_bytes=149_500_000_000)
V4_FLASH_QUANTIZATION = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                         "weight_block_size": [128, 128], "scale_fmt": "ue8m0", "expert_dtype": "fp4"}


@pytest.fixture(scope="module")
def v4_flash_config(tmp_path_factory) -> Path:
    """A folder holding only V4-Flash's config.json: what a user has before downloading 150 GB."""
    folder = tmp_path_factory.mktemp("plans") / "DeepSeek-V4-Flash"
    folder.mkdir()
    config = transformers.DeepseekV4Config().to_dict()
    config["quantization_config"] = V4_FLASH_QUANTIZATION
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _on_gpus(*devices):
    return mock.patch("engine.model_plan._devices", return_value=list(devices))


def test_v4_flash_needs_its_published_150_to_160_gb_and_one_h200_is_too_small(v4_flash_config):
    with _on_gpus(H200):
        plan = plan_model(v4_flash_config, device="cuda", context=1_048_576)
    assert 150e9 <= plan.weights_bytes <= 160e9
    # 277B expert parameters at half a byte, one e8m0 scale per 32 of them; the rest FP8 or BF16.
    assert 138e9 < plan.weights_by_dtype["fp4_e2m1"] < 139e9
    assert 8.5e9 < plan.weights_by_dtype["float8_e8m0fnu"] < 8.8e9
    assert 5e9 < plan.weights_by_dtype["float8_e4m3fn"] < 7e9
    assert plan.kv_bytes_per_token == 6584  # docs/deepseek-v4.md: (20 x 640 / 4 + 23 x 512 / 128) x 2 bytes
    assert plan.kv_by_layer_kind == {"compressed_sparse_attention": 6400, "heavily_compressed_attention": 184}
    assert plan.kv_bytes == 6584 * 1_048_576 + plan.kv_fixed_bytes
    assert not plan.fits
    assert plan.message.startswith("DeepSeek-V4-Flash needs about 145 GiB (156.0 GB) of GPU memory for weights and "
                                   "9.1 GiB for a 1,048,576-token cache; this machine has 139 GiB free of 140 GiB on 1 GPU "
                                   "(NVIDIA H200): about ")
    with _on_gpus(H200, H200):
        assert plan_model(v4_flash_config, device="cuda", context=1_048_576).fits
    with _on_gpus():
        assert plan_model(v4_flash_config, device="cuda").message.endswith("this machine has no CUDA GPU.")


def test_on_cpu_the_plan_counts_the_dequantized_weights(v4_flash_config):
    plan = plan_model(v4_flash_config, device="cpu", context=131_072)
    assert plan.weights_by_dtype["float32"] > 1.1e12 and not plan.fits
    assert plan.kv_bytes_per_token == 2 * 6584  # the CPU engine computes and caches in float32
    assert "dequantized to float32" in plan.notes[0]


def test_a_tiny_models_plan_is_what_the_engine_loads(tmp_path):
    from engine.local.loading import load
    from engine.tiny import cached_tiny_model

    for folder in (cached_tiny_model("llama", max_context=16384),
                   cached_tiny_model("deepseek_v4", heads=16, hidden=256, vocab=1024, max_context=16384, published_layout=True)):
        plan = plan_model(folder, device="cpu", context=4096)
        loaded = load(folder, device="cpu", dtype=None, context=4096)
        tensors = [*loaded.model.parameters(), *loaded.model.buffers()]
        assert plan.weights_bytes == sum(t.numel() * t.element_size() for t in tensors)
        assert plan.fits and (loaded.plan.weights_bytes, loaded.plan.kv_bytes) == (plan.weights_bytes, plan.kv_bytes)
    config = loaded.model.config  # the V4 one: its cache is engine.v4's arithmetic
    from engine.v4.cache import CacheGeometry

    assert plan.kv_bytes_per_token == round(CacheGeometry.from_model(loaded.model).kv_bytes_per_token())
    llama = plan_model(cached_tiny_model("llama", max_context=16384), device="cpu", context=100)
    text = transformers.AutoConfig.from_pretrained(cached_tiny_model("llama", max_context=16384))
    assert llama.kv_bytes_per_token == 2 * text.num_hidden_layers * text.num_key_value_heads * text.head_dim * 4
    assert config.num_hidden_layers == 3


def test_engine_plan_prints_the_json_the_issue_names_and_exits_3_when_it_does_not_fit(v4_flash_config):
    done = subprocess.run([sys.executable, "-m", "engine", "plan", "--model", str(v4_flash_config), "--context", "131072",
                           "--device", "cpu", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    plan = json.loads(done.stdout)
    assert {"weights_bytes", "weights_by_dtype", "kv_bytes_per_token", "kv_bytes", "devices", "fits", "message"} <= set(plan)
    assert plan["devices"][0]["name"] == "cpu (host memory)" and set(plan["devices"][0]) == {"name", "total_bytes", "free_bytes"}
    assert plan["fits"] is False and plan["context_tokens"] == 131072


def test_engine_plan_names_what_it_cannot_read(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "deepseek_v4", "quantization_config": {"quant_method": "fp3"}}')
    done = subprocess.run([sys.executable, "-m", "engine", "plan", "--model", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{tmp_path / 'config.json'}: quantization_config.quant_method 'fp3'" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "engine", "plan", "--model", str(empty)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and f"{empty / 'config.json'} is missing" in done.stderr


def test_the_plan_reads_no_tensor_data(monkeypatch):
    from engine.tiny import cached_tiny_model

    folder = cached_tiny_model("deepseek_v4", heads=16, hidden=256, vocab=1024, max_context=16384, published_layout=True)
    opened = []
    real_open = open

    def watching(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", watching)
    with mock.patch("safetensors.safe_open", side_effect=AssertionError("tensor data read")):
        plan_model(folder, device="cpu")
    assert not any(path.endswith(".safetensors") for path in opened)

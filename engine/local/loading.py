"""Find and load a checkpoint (local directory, or a hub id only where the hub answers) without ever
hanging on the network; every failure becomes one error that names the setting to fix."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.api import EngineUnavailableError, ModelNotFoundError
from engine.checkpoint_files import CheckpointError, inspect_checkpoint
from engine.model_plan import ModelPlan, require_fit

SETTING = "QUIRE_ENGINE_MODEL"
_PROBE_SECONDS = 2.0


@dataclass
class Loaded:
    model: object
    tokenizer: object | None
    source: str  # local directory the weights came from
    eos_token_ids: list[int]
    attn_implementation: str
    device: str
    plan: ModelPlan | None = None  # the memory plan checked before loading (engine.model_plan)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailableError("device='cuda' was asked for but PyTorch sees no CUDA device.")
    return device


def attention_for(device: str) -> str:
    if device.startswith("cuda"):
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    # "sdpa_paged" is refused on CPU by transformers 5.23; the continuous-batching manager takes "sdpa".
    return "sdpa"


def _maybe_mask_free_cpu_attention(model, attn: str, device: str) -> str:
    """On CPU, switch the loaded model to engine.local.attention where it computes the same attention.

    Set on the config directly: set_attn_implementation() treats every name containing "flash" as a kernel
    to fetch from the hub, and the name must contain "flash" for the batch to drop its mask (see attention.py).
    """
    from engine.local import attention

    if attn != "sdpa" or not attention.supported(model.config, device):
        return attn
    name = attention.register()
    for config in {id(c): c for c in (model.config, model.config.get_text_config())}.values():
        config._attn_implementation = name
    return name


def _hub_reachable() -> bool:
    """A bounded check: name resolution has no timeout of its own, so it runs in a thread we stop waiting for."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    answer: list[bool] = []

    host, port = _hub_address()

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=_PROBE_SECONDS):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(_PROBE_SECONDS + 0.5)
    return bool(answer and answer[0])


def _hub_address() -> tuple[str, int]:
    """The hub huggingface_hub would use: HF_ENDPOINT (a mirror, or a closed local port in tests)."""
    from urllib.parse import urlsplit

    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme == "https" else 80)


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or os.sep + os.sep in name


def resolve_source(model: str | Path) -> str:
    """A local directory with a config.json, or a hub id already cached or fetchable now."""
    name = str(model)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} has no config.json, so it is not a model checkpoint; set {SETTING} to a model directory or hub id.")
        return str(path)
    if isinstance(model, Path) or _looks_like_path(name):
        raise ModelNotFoundError(f"Model directory {name} does not exist; set {SETTING} to a model directory or hub id.")

    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, local_files_only=True)
    except Exception:
        pass
    if not _hub_reachable():
        raise EngineUnavailableError(
            f"Model {name!r} is not in the local cache and the Hugging Face hub cannot be reached "
            f"(offline); download it once where the network is available, or set {SETTING} to a local model directory."
        )
    try:
        return snapshot_download(name, etag_timeout=10)
    except Exception as error:  # RepositoryNotFoundError, gated repos, network drops
        raise ModelNotFoundError(f"Model {name!r} could not be fetched from the hub ({type(error).__name__}); check {SETTING}.") from error


def _eos_ids(model, tokenizer) -> list[int]:
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        if source is None:
            continue
        value = getattr(source, "eos_token_id", None)
        if value is None:
            continue
        ids = [value] if isinstance(value, int) else [int(v) for v in value]
        ids = [i for i in ids if i >= 0]
        if ids:
            return ids
    return []


def load(model: str | Path, *, device: str, dtype, context: int | None = None) -> Loaded:
    """Check the folder's files and the memory plan, then load: nothing heavy is read before both pass.

    An FP8 checkpoint (DeepSeek-V4-Flash: FP8 weights, FP4 experts) stays FP8/FP4 on CUDA through transformers'
    FP8 modules, loaded straight onto the GPU(s); on CPU transformers dequantizes it while loading and the
    engine computes in `dtype` (float32 by default).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_source(model)
    device = resolve_device(device)
    files = inspect_checkpoint(source)
    plan = require_fit(source, device=device, context=context)
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    v4 = files.config.get("model_type") == "deepseek_v4"
    attn = "eager" if v4 else attention_for(device)  # engine.v4 replaces V4's attention; eager is what it loads with
    # V4-Flash's weights (about 150 GB in FP8) need several GPUs: transformers places whole decoder layers across
    # them, and engine.v4 keeps each layer's cache on that layer's device.
    spread = v4 and device == "cuda" and torch.cuda.device_count() > 1
    quantized = files.quant_method is not None
    placement = {}
    if spread:
        placement = {"device_map": "auto"}
    elif quantized and device.startswith("cuda"):
        placement = {"device_map": {"": device if ":" in device else "cuda:0"}}  # never through host memory whole
    try:
        loaded = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, attn_implementation=attn, local_files_only=True,
                                                      **placement)
    except ImportError as error:  # a quantization or file format whose package is not installed
        raise ModelNotFoundError(f"{source} needs a package that is not installed: {error}") from error
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise CheckpointError(f"{source} could not be loaded as a causal language model: {error}; check {SETTING}.") from error
    if placement:
        loaded = loaded.eval()
    elif quantized:
        # Dequantized on CPU, but into mixed dtypes (bfloat16 where transformers' dequantizer chose it).
        loaded = loaded.to(device=device, dtype=dtype).eval()
    else:
        loaded = loaded.to(device).eval()
    attn = _maybe_mask_free_cpu_attention(loaded, attn, device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, TypeError):
        tokenizer = None
    if tokenizer is None:
        raise ModelNotFoundError(f"{source} has no tokenizer the engine can load; check {SETTING}.")
    eos = _eos_ids(loaded, tokenizer)
    if not eos:
        # transformers' batching turns a missing eos into -1, which never stops: refuse instead.
        raise ModelNotFoundError(
            f"{source} names no end-of-sequence token (generation_config.json, config.json or the tokenizer); "
            f"add eos_token_id there or choose another model with {SETTING}."
        )
    return Loaded(model=loaded, tokenizer=tokenizer, source=source, eos_token_ids=eos, attn_implementation=attn, device=device,
                  plan=plan)

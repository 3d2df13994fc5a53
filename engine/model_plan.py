"""What a checkpoint needs in memory, worked out before any weight is read, and whether this machine has it.

A user who points the engine at DeepSeek-V4-Flash on one 80 GB GPU should hear so at once, with numbers,
not run out of memory halfway through reading 150 GB. The plan builds the model on PyTorch's meta device
(shapes, no storage) from config.json, applies transformers' own FP8 module replacement where the checkpoint
is FP8 and the weights will stay FP8 (CUDA), and counts bytes by dtype; the cache is the engine's own
arithmetic (engine.v4.cache for V4, engine.local.memory otherwise). It reads config.json only, never tensors.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.api import EngineError
from engine.checkpoint_files import CheckpointError, check_quantization, read_config

GIB = 1 << 30
# Kept free on every GPU for the CUDA context, activations of a prefill chunk and allocator slack.
GPU_HEADROOM_FRACTION = 0.05
# engine.v4 keeps a checkpoint of its windows every this many prefill tokens (V4Engine's checkpoint_every).
V4_CHECKPOINT_EVERY = 2048


class ModelDoesNotFitError(EngineError):
    """The plan says the weights and the cache exceed the memory this machine has; nothing was loaded."""

    code = "model_does_not_fit"


@dataclass(frozen=True)
class DeviceMemory:
    name: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class ModelPlan:
    model: str
    device: str  # "cuda" or "cpu": where the weights would live
    context_tokens: int
    weights_bytes: int
    weights_by_dtype: dict[str, int]
    kv_bytes_per_token: int
    kv_bytes: int
    kv_fixed_bytes: int  # what the cache needs whatever the length: V4's sliding windows and prefill checkpoints
    kv_by_layer_kind: dict[str, int]  # bytes per token, all layers of each kind together
    devices: list[DeviceMemory]
    fits: bool
    message: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def plan_model(model_dir: str | Path, *, context: int | None = None, device: str = "auto") -> ModelPlan:
    """The memory plan for the checkpoint folder `model_dir` (only its config.json is needed)."""
    import torch

    directory = Path(model_dir)
    config_dict = read_config(directory)
    check_quantization(config_dict, directory / "config.json")
    device = _resolve_device(device)
    config = _config(directory)
    text = config.get_text_config()
    context = int(context or getattr(text, "max_position_embeddings", 0) or 4096)
    compute_dtype = torch.bfloat16 if device == "cuda" else torch.float32
    quantization = config_dict.get("quantization_config") if isinstance(config_dict.get("quantization_config"), dict) else None
    keep_quantized = (device == "cuda" and quantization is not None and quantization.get("quant_method") == "fp8"
                      and not quantization.get("dequantize") and _gpu_keeps_fp8())
    by_dtype = _weights_by_dtype(config, compute_dtype=compute_dtype, fp8=quantization if keep_quantized else None)
    notes = []
    if quantization is not None and not keep_quantized:
        notes.append(f"{quantization.get('quant_method')} weights are dequantized to {_dtype_name(compute_dtype)} at load on {device}")
    per_kind, fixed = _cache(text, compute_dtype=compute_dtype, context=context)
    per_token = math.ceil(sum(per_kind.values()))
    weights = sum(by_dtype.values())
    kv = per_token * context + fixed
    devices = _devices(device)
    fits, message = _verdict(directory.name or str(directory), device, devices, weights=weights, kv=kv, context=context)
    return ModelPlan(
        model=directory.name, device=device, context_tokens=context, weights_bytes=weights, weights_by_dtype=by_dtype,
        kv_bytes_per_token=per_token, kv_bytes=kv, kv_fixed_bytes=fixed,
        kv_by_layer_kind={kind: math.ceil(value) for kind, value in per_kind.items()},
        devices=devices, fits=fits, message=message, notes=notes,
    )


def require_fit(model_dir: str | Path, *, device: str, context: int | None = None) -> ModelPlan:
    """The plan, or ModelDoesNotFitError with its message: for the engine to call before loading."""
    plan = plan_model(model_dir, context=context, device=device)
    if not plan.fits:
        raise ModelDoesNotFitError(plan.message)
    return plan


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        return "cuda"
    if device != "cpu":
        raise EngineError(f"device {device!r}: use auto, cpu or cuda.")
    return device


def _gpu_keeps_fp8() -> bool:
    """transformers keeps FP8 weights on compute capability 8.9 and up (Ada, Hopper, Blackwell) and dequantizes them
    to bfloat16 below; planning for CUDA on a machine without one assumes a GPU that keeps them."""
    import torch

    if not torch.cuda.is_available():
        return True
    return torch.cuda.get_device_capability() >= (8, 9)


def _config(directory: Path):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{directory / 'config.json'} is not a model configuration transformers knows: {error}") from error


def _weights_by_dtype(config, *, compute_dtype, fp8: dict | None) -> dict[str, int]:
    """Bytes per stored dtype of every parameter and buffer, as loading would place them."""
    # Building V4-Flash on the meta device takes about 2 s: cached, since /readyz and each engine start ask again.
    config_json = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return dict(_cached_weights(type(config), config_json, _dtype_name(compute_dtype), json.dumps(fp8, sort_keys=True)))


@functools.lru_cache(maxsize=8)
def _cached_weights(config_class, config_json: str, compute_dtype_name: str, fp8_json: str) -> tuple[tuple[str, int], ...]:
    import torch
    from transformers import AutoModelForCausalLM

    config = config_class.from_dict(json.loads(config_json))
    compute_dtype = getattr(torch, compute_dtype_name)
    fp8 = json.loads(fp8_json)
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"transformers cannot build a causal LM from this config.json: {error}") from error
    if fp8 is not None:
        _replace_with_fp8(model, fp8)
    strict = tuple(getattr(model, "_keep_in_fp32_modules_strict", None) or ())
    totals: dict[str, int] = {}
    parameters = {name for name, _ in model.named_parameters()}
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        dtype = tensor.dtype
        # from_config's float32 default: loading casts parameters (not buffers) to the compute dtype, except
        # in fp32-strict modules.
        if dtype == torch.float32 and name in parameters:
            dtype = torch.float32 if _in_modules(name, strict) else compute_dtype
        label = _dtype_name(dtype, fp4=name.endswith(("gate_up_proj", "down_proj", "up_proj")) and tensor.dtype == torch.int8)
        size = torch.empty((), dtype=dtype).element_size()
        totals[label] = totals.get(label, 0) + tensor.numel() * size
    return tuple(sorted(totals.items(), key=lambda item: -item[1]))


def _replace_with_fp8(model, quantization: dict) -> None:
    """transformers' own swap of Linear and experts modules for FP8/FP4 ones (what from_pretrained does on CUDA)."""
    from transformers.integrations.finegrained_fp8 import replace_with_fp8_linear
    from transformers.quantizers.base import HfQuantizer
    from transformers.utils.quantization_config import FineGrainedFP8Config

    settings = {k: v for k, v in quantization.items() if k not in ("quant_method", "fmt")}
    config = FineGrainedFP8Config(**settings)
    skip = HfQuantizer.get_modules_to_not_convert(model, config.modules_to_not_convert, model._keep_in_fp32_modules)
    replace_with_fp8_linear(model, modules_to_not_convert=skip, quantization_config=config, pre_quantized=True)


def _in_modules(name: str, modules: tuple[str, ...]) -> bool:
    """Whether `name` lies inside a module named (or dotted-path named) in `modules`."""
    return any(f".{module}." in f".{name}." for module in modules)


def _dtype_name(dtype, *, fp4: bool = False) -> str:
    if fp4:
        return "fp4_e2m1"  # two values per int8 byte
    return str(dtype).removeprefix("torch.")


def _cache(text, *, compute_dtype, context: int) -> tuple[dict[str, float], int]:
    """Per-token cache bytes by layer kind, and the bytes that do not grow with the context."""
    import torch

    size = torch.empty((), dtype=compute_dtype).element_size()
    if getattr(text, "model_type", None) == "deepseek_v4":
        from engine.v4.cache import CacheGeometry

        geometry = CacheGeometry.from_config(text, dtype=compute_dtype)
        checkpoints = context // V4_CHECKPOINT_EVERY
        return geometry.kv_bytes_per_token_by_kind(size), geometry.window_bytes() * (1 + checkpoints)
    from engine.local.memory import kv_bytes_per_token

    return {"full_attention": kv_bytes_per_token(text, dtype_bytes=size)}, 0


def _devices(device: str) -> list[DeviceMemory]:
    import torch

    if device == "cuda":
        found = []
        for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
            free, total = torch.cuda.mem_get_info(index)
            found.append(DeviceMemory(torch.cuda.get_device_name(index), int(total), int(free)))
        return found
    from engine.local.memory import host_available_bytes, host_memory_bytes

    return [DeviceMemory("cpu (host memory)", host_memory_bytes(), host_available_bytes())]


def _verdict(label: str, device: str, devices: list[DeviceMemory], *, weights: int, kv: int, context: int) -> tuple[bool, str]:
    kind = "GPU" if device == "cuda" else "host"
    need = (f"{label} needs about {_gib(weights)} GiB ({weights / 1e9:,.1f} GB) of {kind} memory for weights and "
            f"{_gib(kv)} GiB for a {context:,}-token cache")
    if not devices:
        return False, f"{need}; this machine has no CUDA GPU."
    free = sum(d.free_bytes for d in devices)
    total = sum(d.total_bytes for d in devices)
    usable = free - (int(GPU_HEADROOM_FRACTION * total) if device == "cuda" else 0)
    names = ", ".join(sorted({d.name for d in devices}))
    where = f"{len(devices)} GPU{'s' if len(devices) > 1 else ''} ({names})" if device == "cuda" else "host memory"
    have = f"this machine has {_gib(free)} GiB free of {_gib(total)} GiB on {where}"
    if weights + kv <= usable:
        return True, f"{need}; {have}: it fits."
    short = weights + kv - usable
    shorter = "" if weights > usable else " a shorter context (--context, QUIRE_ENGINE_MAX_CONTEXT),"
    more = "more GPUs" if device == "cuda" else "a GPU machine"
    advice = (f"Use {more},{shorter} or serve the model with vLLM or SGLang across GPUs and point Quire at it "
              "(QUIRE_ENGINE=openai).")
    return False, f"{need}; {have}: about {_gib(short)} GiB short. {advice}"


def _gib(value: int) -> str:
    gib = value / GIB
    return f"{gib:,.0f}" if gib >= 10 else f"{gib:.1f}" if gib >= 0.1 else f"{gib:.3f}"

"""DeepSeek-V4 checkpoints laid out the way DeepSeek publishes V4-Flash, written from a transformers model.

The published V4-Flash differs from what `save_pretrained` writes in three ways, and each one is a way for
loading to break: DeepSeek's own tensor names (`layers.3.attn.wq_a.weight`, `embed.weight`, `head.weight`, no
`model.` prefix; transformers renames them through `conversion_mapping.py`), block-wise FP8 weights with
power-of-two inverse scales beside them (`.scale`, e4m3 values in 128x128 blocks, scales as e8m0) and FP4
experts (two e2m1 values per byte, one e8m0 scale per 32 inputs of a row), and the multi-token-prediction
layer (`mtp.0.*`) that transformers does not build and must skip. This module writes all three, sharded with
an index, so tests load a small random model through the same loader code the real one takes. It quantizes
exactly as the published formats define; it must never write a layout transformers would not read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors.torch import save_file

FP8_BLOCK = 128
FP8_MAX = 448.0  # largest finite float8_e4m3fn
FP4_GROUP = 32  # inputs sharing one scale in a row of an FP4 expert
FP4_MAX = 6.0  # largest e2m1 magnitude
_E2M1_MAGNITUDES = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])

# As V4-Flash's config.json carries it; `expert_dtype` is where transformers 5.23 reads the experts' format.
QUANTIZATION_CONFIG = {
    "quant_method": "fp8",
    "fmt": "e4m3",
    "activation_scheme": "dynamic",
    "weight_block_size": [FP8_BLOCK, FP8_BLOCK],
    "scale_fmt": "ue8m0",
    "expert_dtype": "fp4",
}

# Projections V4-Flash ships in BF16 although they are linear layers (transformers lists the same ones in
# DeepseekV4PreTrainedModel._keep_in_fp32_modules so its FP8 quantizer leaves them alone).
_BF16_LINEARS = ("compressor.kv_proj", "compressor.gate_proj", "indexer.kv_proj", "indexer.gate_proj", "weights_proj")

# transformers' name (without "model.") -> DeepSeek's, applied in order; the inverse of transformers'
# conversion_mapping["deepseek_v4"].
_RENAMES = [
    (r"^embed_tokens\.", "embed."),
    (r"^lm_head\.", "head."),
    (r"^hc_head\.hc_(fn|base|scale)$", r"hc_head_\1"),
    (r"\.self_attn\.compressor\.indexer\.scorer\.weights_proj\.", ".attn.indexer.weights_proj."),
    (r"\.self_attn\.compressor\.indexer\.q_b_proj\.", ".attn.indexer.wq_b."),
    (r"\.self_attn\.compressor\.indexer\.", ".attn.indexer.compressor."),
    (r"\.self_attn\.", ".attn."),
    (r"\.mlp\.", ".ffn."),
    (r"\.compressor\.kv_norm\.", ".compressor.norm."),
    (r"\.compressor\.position_bias$", ".compressor.ape"),
    (r"\.compressor\.gate_proj\.", ".compressor.wgate."),
    (r"\.kv_proj\.", ".wkv."),
    (r"\.q_a_proj\.", ".wq_a."),
    (r"\.attn\.q_b_proj\.", ".attn.wq_b."),
    (r"\.o_a_proj\.", ".wo_a."),
    (r"\.o_b_proj\.", ".wo_b."),
    (r"\.q_a_norm\.", ".q_norm."),
    (r"\.sinks$", ".attn_sink"),
    (r"\.input_layernorm\.", ".attn_norm."),
    (r"\.post_attention_layernorm\.", ".ffn_norm."),
    (r"\.(attn|ffn)_hc\.(fn|base|scale)$", r".hc_\1_\2"),
    (r"\.gate\.e_score_correction_bias$", ".gate.bias"),
    (r"\.shared_experts\.gate_proj\.", ".shared_experts.w1."),
    (r"\.shared_experts\.down_proj\.", ".shared_experts.w2."),
    (r"\.shared_experts\.up_proj\.", ".shared_experts.w3."),
]


def deepseek_name(name: str) -> str:
    """DeepSeek's published name for a transformers parameter name (experts excepted: see `_expert_tensors`)."""
    name = name.removeprefix("model.")
    for pattern, replacement in _RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def quantize_fp8_blocks(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Block-wise FP8 as DeepSeek ships it: e4m3 values and, per 128x128 block, the power-of-two scale the
    block was divided by (stored as e8m0, the "inverse scale": weight = value x scale)."""
    rows, cols = weight.shape
    for size in (rows, cols):
        # transformers' dequantizer reads the block size off the scale grid (size / blocks), so a partial
        # block is only read back right when it is the only block of that dimension.
        if size > FP8_BLOCK and size % FP8_BLOCK:
            raise ValueError(f"an FP8 weight dimension must be under {FP8_BLOCK} or a multiple of it; got {weight.shape}")
    row_blocks, col_blocks = -(-rows // FP8_BLOCK), -(-cols // FP8_BLOCK)
    padded = weight.new_zeros(row_blocks * FP8_BLOCK, col_blocks * FP8_BLOCK, dtype=torch.float32)
    padded[:rows, :cols] = weight.float()
    blocks = padded.view(row_blocks, FP8_BLOCK, col_blocks, FP8_BLOCK)
    scale = _power_of_two_scale(blocks.abs().amax(dim=(1, 3)), FP8_MAX)
    values = (blocks / scale[:, None, :, None]).clamp(-FP8_MAX, FP8_MAX).view_as(padded)[:rows, :cols]
    return values.to(torch.float8_e4m3fn).contiguous(), scale.to(torch.float8_e8m0fnu)


def quantize_fp4_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FP4 (e2m1) as V4's experts ship: each row in groups of 32 inputs with one power-of-two scale, two
    values per byte (the even input in the low nibble), stored as int8 [rows, cols / 2]."""
    rows, cols = weight.shape
    if cols % FP4_GROUP:
        raise ValueError(f"an FP4 expert's input width must be a multiple of {FP4_GROUP}; got {cols}")
    groups = weight.float().view(rows, cols // FP4_GROUP, FP4_GROUP)
    scale = _power_of_two_scale(groups.abs().amax(dim=2), FP4_MAX)
    scaled = (groups / scale[..., None]).view(rows, cols)
    # Nearest e2m1 magnitude, sign in the top bit of the nibble (code 8 + m is -magnitude[m]).
    codes = (scaled.abs()[..., None] - _E2M1_MAGNITUDES).abs().argmin(dim=-1)
    codes = torch.where(scaled < 0, codes + 8, codes).to(torch.uint8)
    packed = codes[:, 0::2] | (codes[:, 1::2] << 4)
    return packed.view(torch.int8).contiguous(), scale.to(torch.float8_e8m0fnu)


def _power_of_two_scale(amax: torch.Tensor, largest: float) -> torch.Tensor:
    """The smallest power of two that brings `amax` within the format's largest value (1 for all-zero blocks)."""
    ratio = (amax / largest).clamp(min=torch.finfo(torch.float32).tiny)
    return torch.where(amax > 0, torch.exp2(torch.ceil(torch.log2(ratio))), torch.ones_like(amax))


def published_tensors(model: torch.nn.Module, *, storage_dtype: torch.dtype = torch.bfloat16) -> dict[str, torch.Tensor]:
    """Every tensor of `model` (a DeepseekV4ForCausalLM) under DeepSeek's names, quantized as V4-Flash is."""
    out: dict[str, torch.Tensor] = {}
    fp8_weights = {f"{name}.weight" for name, module in model.named_modules() if _ships_fp8(name, module)}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if name.endswith((".experts.gate_up_proj", ".experts.down_proj")):
            out.update(_expert_tensors(name, tensor))
        elif name in fp8_weights:
            values, scale = quantize_fp8_blocks(tensor)
            base = deepseek_name(name).removesuffix(".weight")
            out[f"{base}.weight"], out[f"{base}.scale"] = values, scale
        elif tensor.is_floating_point():
            out[deepseek_name(name)] = tensor.to(storage_dtype).contiguous()
        else:
            out[deepseek_name(name)] = tensor.contiguous()  # the hash layer's token -> experts table
    return out


def _ships_fp8(name: str, module: torch.nn.Module) -> bool:
    if not isinstance(module, torch.nn.Linear) or name in ("lm_head", "model.lm_head"):
        return False
    return not name.endswith(_BF16_LINEARS)


def _expert_tensors(name: str, fused: torch.Tensor) -> dict[str, torch.Tensor]:
    """transformers fuses experts ([E, 2I, H] gate+up, [E, H, I] down); DeepSeek ships w1/w3/w2 per expert."""
    prefix = deepseek_name(name.rsplit(".", 1)[0])  # layers.N.ffn.experts
    out: dict[str, torch.Tensor] = {}
    for expert, weight in enumerate(fused):
        if name.endswith("gate_up_proj"):
            gate, up = weight.chunk(2, dim=0)
            parts = {"w1": gate, "w3": up}
        else:
            parts = {"w2": weight}
        for part, matrix in parts.items():
            values, scale = quantize_fp4_rows(matrix)
            out[f"{prefix}.{expert}.{part}.weight"], out[f"{prefix}.{expert}.{part}.scale"] = values, scale
    return out


def mtp_tensors(tensors: dict[str, torch.Tensor], *, last_layer: int) -> dict[str, torch.Tensor]:
    """The multi-token-prediction block DeepSeek ships beyond the decoder layers: a copy of the last layer's
    tensors under `mtp.0.` plus its own projections and norms. Only its presence matters here: transformers
    builds no MTP module, so the loader must skip these names without error."""
    prefix = f"layers.{last_layer}."
    out = {f"mtp.0.{name[len(prefix):]}": tensor.clone() for name, tensor in tensors.items() if name.startswith(prefix)}
    hidden = tensors["norm.weight"].shape[0]
    out["mtp.0.enorm.weight"] = torch.ones(hidden, dtype=tensors["norm.weight"].dtype)
    out["mtp.0.hnorm.weight"] = torch.ones(hidden, dtype=tensors["norm.weight"].dtype)
    values, scale = quantize_fp8_blocks(torch.randn(hidden, 2 * hidden) * 0.02)
    out["mtp.0.e_proj.weight"], out["mtp.0.e_proj.scale"] = values, scale
    return out


def write_shards(tensors: dict[str, torch.Tensor], out_dir: Path, *, shards: int) -> Path:
    """`model-0000i-of-0000n.safetensors` files and `model.safetensors.index.json`, as published checkpoints
    are split: whole layers stay in one shard where possible, in name order."""
    names = sorted(tensors, key=_layer_order)
    per_shard = -(-len(names) // shards)
    weight_map: dict[str, str] = {}
    total = 0
    for index in range(shards):
        chunk = names[index * per_shard:(index + 1) * per_shard]
        filename = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        save_file({name: tensors[name] for name in chunk}, str(out_dir / filename), metadata={"format": "pt"})
        for name in chunk:
            weight_map[name] = filename
            total += tensors[name].numel() * tensors[name].element_size()
    index_path = out_dir / "model.safetensors.index.json"
    index_path.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
    return index_path


def _layer_order(name: str) -> tuple:
    match = re.match(r"^(layers|mtp)\.(\d+)\.", name)
    if match is None:
        return (0 if name.startswith("embed") else 3, 0, name)
    return (1 if match.group(1) == "layers" else 2, int(match.group(2)), name)

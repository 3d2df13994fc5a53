"""Tiny random-weight causal LMs, saved exactly like real checkpoints, for tests and demos.

A folder built here (config.json, model.safetensors, generation_config.json, tokenizer files with a
chat template) loads through `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`,
so engine code is exercised on the same path a real checkpoint takes. This module must never
download weights or tokenizers, and its models must never be served as if they could write text.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
import tempfile
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, GenerationConfig, PreTrainedConfig, PreTrainedTokenizerFast

from engine.api import RANDOM_WEIGHTS_MARKER
from engine.tokenizer_train import (
    BOS,
    DEFAULT_VOCAB,
    EOS,
    IM_END,
    PAD,
    cached_tokenizer,
    default_cache_dir,
    publish_dir,
    save_tokenizer,
)

ARCHS = ("llama", "qwen2", "qwen3", "deepseek_v4")
DEFAULT_MAX_CONTEXT = 131072
# Bumped whenever what a build writes changes, so cached_tiny_model does not hand out stale folders.
BUILD_VERSION = "2"


class TinyModelError(ValueError):
    """Options that cannot make a model; the message is fit to show on the command line."""


def build_tiny_model(
    arch: str,
    out_dir: Path,
    *,
    layers: int | None = None,
    hidden: int = 64,
    heads: int = 4,
    kv_heads: int | None = None,
    vocab: int = DEFAULT_VOCAB,
    max_context: int = DEFAULT_MAX_CONTEXT,
    seed: int = 0,
    corpus: Path | None = None,
    cache_dir: Path | None = None,
    published_layout: bool = False,
) -> Path:
    """Write a random-weight checkpoint of `arch` into `out_dir` and return `out_dir`.

    `layers` and `kv_heads` default per architecture: 2 layers with 2 KV heads (GQA) for the dense
    ones; 3 layers (one of each attention kind) with the single shared KV head for deepseek_v4.
    The same options and seed give byte-identical model.safetensors. `corpus` is the folder of .txt
    files the tokenizer is trained on; `cache_dir` holds trained tokenizers. `published_layout` (deepseek_v4
    only) writes the model as DeepSeek publishes V4-Flash (engine.published_layout) instead of as
    `save_pretrained` would.
    """
    layers, kv_heads = _resolve_defaults(arch, layers=layers, kv_heads=kv_heads)
    _validate(arch, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, max_context=max_context)
    if published_layout and arch != "deepseek_v4":
        raise TinyModelError(f"--published-layout is DeepSeek-V4's published checkpoint format; --arch {arch} has none.")
    if published_layout and hidden % 256:
        # FP8 blocks are 128 x 128 and transformers' grouped FP8 output projection needs whole blocks per group
        # (o_groups 2 x o_lora_rank hidden/2), as V4-Flash's widths give them.
        raise TinyModelError(f"--published-layout needs --hidden to be a multiple of 256 (whole FP8 blocks); got {hidden}.")
    try:
        tokenizer = cached_tokenizer(vocab=vocab, corpus=corpus, cache_dir=cache_dir, model_max_length=max_context)
    except ValueError as error:
        raise TinyModelError(str(error)) from error
    token_ids = _token_ids(tokenizer)
    config = _config(arch, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, vocab=len(tokenizer), max_context=max_context, token_ids=token_ids)

    # A private RNG stream: the weights depend on `seed` alone, and the caller's RNG is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        if arch == "deepseek_v4":
            _randomize_hash_routing(model, seed=seed)
    # Chat turns end with <|im_end|>, raw text with <|end_of_text|>; continuous batching never stops
    # a sequence whose eos is unset, so both are listed, as instruct checkpoints do.
    model.generation_config = GenerationConfig(
        bos_token_id=token_ids["bos"],
        eos_token_id=[token_ids["eos"], token_ids["im_end"]],
        pad_token_id=token_ids["pad"],
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if published_layout:
        _save_published(model, out_dir, seed=seed)
    else:
        model.save_pretrained(out_dir)  # transformers 5 always writes model.safetensors
    save_tokenizer(tokenizer, out_dir)
    flag = " --published-layout" if published_layout else ""
    (out_dir / RANDOM_WEIGHTS_MARKER).write_text(
        f"Random weights from `python -m engine tiny-model --arch {arch}{flag} --seed {seed}`: its output is meaningless.\n")
    return out_dir


def _save_published(model: torch.nn.Module, out_dir: Path, *, seed: int) -> None:
    """config.json with V4-Flash's quantization settings and its MTP layer announced, then the weights as
    DeepSeek ships them, quantized, in three shards with an index."""
    from engine.published_layout import QUANTIZATION_CONFIG, mtp_tensors, published_tensors, write_shards

    # Zero at initialisation (the real values come from a checkpoint): random ones make loading them matter.
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("sinks", "position_bias", "e_score_correction_bias")):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    try:
        tensors = published_tensors(model)
    except ValueError as error:
        raise TinyModelError(str(error)) from error
    tensors.update(mtp_tensors(tensors, last_layer=model.config.num_hidden_layers - 1))
    config = model.config
    config.quantization_config = dict(QUANTIZATION_CONFIG)
    config.num_nextn_predict_layers = 1
    config.save_pretrained(out_dir)
    model.generation_config.save_pretrained(out_dir)
    write_shards(tensors, out_dir, shards=3)


def cached_tiny_model(arch: str, **options) -> Path:
    """A tiny model for `arch` and `options` (as build_tiny_model takes them), built once per machine.

    Lives under $QUIRE_CACHE_DIR (default ~/.cache/quire)/tiny-models/<key>. Two processes may build
    the same key at once: each builds in a temp folder and the first atomic rename wins.
    """
    # Every option spelled out, defaults included, so `hidden=64` and no `hidden` share one folder.
    bound = inspect.signature(build_tiny_model).bind(arch, Path("."), **options)
    bound.apply_defaults()
    resolved = {name: value for name, value in bound.arguments.items() if name not in ("arch", "out_dir")}
    resolved["layers"], resolved["kv_heads"] = _resolve_defaults(arch, layers=resolved["layers"], kv_heads=resolved["kv_heads"])
    key_source = json.dumps(
        {"arch": arch, "build": BUILD_VERSION, "transformers": transformers.__version__, **{k: str(v) for k, v in resolved.items()}},
        sort_keys=True,
    )
    key = f"{arch}-{hashlib.sha256(key_source.encode()).hexdigest()[:16]}"
    root = default_cache_dir() / "tiny-models"
    target = root / key
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        build_tiny_model(arch, staging, **resolved)
        publish_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _resolve_defaults(arch: str, *, layers: int | None, kv_heads: int | None) -> tuple[int, int]:
    if arch not in ARCHS:
        raise TinyModelError(f"unknown architecture {arch!r}; choose one of: {', '.join(ARCHS)}.")
    if arch == "deepseek_v4":
        return (3 if layers is None else layers), (1 if kv_heads is None else kv_heads)
    return (2 if layers is None else layers), (2 if kv_heads is None else kv_heads)


def _validate(arch: str, *, layers: int, hidden: int, heads: int, kv_heads: int, max_context: int) -> None:
    for name, value in (("layers", layers), ("hidden", hidden), ("heads", heads), ("kv-heads", kv_heads), ("max-context", max_context)):
        if value < 1:
            raise TinyModelError(f"--{name} must be at least 1; got {value}.")
    if hidden % heads:
        raise TinyModelError(f"--hidden ({hidden}) must be a multiple of --heads ({heads}).")
    if heads % kv_heads:
        raise TinyModelError(f"--heads ({heads}) must be a multiple of --kv-heads ({kv_heads}).")
    if arch == "deepseek_v4" and kv_heads != 1:
        raise TinyModelError(f"deepseek_v4 has one KV head shared by all query heads; --kv-heads must be 1, got {kv_heads}.")
    if (hidden // heads) % 2:
        raise TinyModelError(f"head size --hidden/--heads ({hidden // heads}) must be even for rotary embeddings.")


def _token_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in (("bos", BOS), ("eos", EOS), ("im_end", IM_END), ("pad", PAD))}
    assert all(isinstance(value, int) and value != tokenizer.unk_token_id for value in ids.values()), ids
    return ids


def _config(arch: str, *, layers: int, hidden: int, heads: int, kv_heads: int, vocab: int, max_context: int, token_ids: dict[str, int]) -> PreTrainedConfig:
    common = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": max_context,
        "bos_token_id": token_ids["bos"],
        "eos_token_id": [token_ids["eos"], token_ids["im_end"]],
        "pad_token_id": token_ids["pad"],
        "tie_word_embeddings": False,
        "rms_norm_eps": 1e-6,
    }
    if arch == "deepseek_v4":
        return _deepseek_v4_config(common, layers=layers, hidden=hidden, heads=heads, max_context=max_context)
    dense = {
        **common,
        "intermediate_size": 2 * hidden,
        "head_dim": hidden // heads,
        # Qwen2.5/Qwen3's base; far above any tiny test prompt, and long prompts stay distinguishable.
        "rope_theta": 1_000_000.0,
    }
    if arch == "llama":
        return transformers.LlamaConfig(**dense)
    if arch == "qwen2":
        return transformers.Qwen2Config(**dense, use_sliding_window=False)
    return transformers.Qwen3Config(**dense, use_sliding_window=False)


def _deepseek_v4_config(common: dict, *, layers: int, hidden: int, heads: int, max_context: int) -> PreTrainedConfig:
    """V4 with its real mechanisms and cache geometry (128-token window, compress rates 4 and 128,
    YaRN on compressed branches, hash-MoE first) but every width shrunk, so CPU tests run in seconds."""
    # One pure sliding-window layer, then CSA and HCA alternating: three layers cover every cache kind.
    interleave = ["compressed_sparse_attention", "heavily_compressed_attention"]
    layer_types = ["sliding_attention"] + [interleave[i % 2] for i in range(layers - 1)]
    head_dim = 2 * hidden // heads  # V4 heads are wider than hidden/heads (512 vs 4096/64)
    return transformers.DeepseekV4Config(
        **common,
        head_dim=head_dim,
        partial_rotary_factor=0.25,  # real: 64 of 512 dims rotate; a quarter keeps it even when tiny
        q_lora_rank=hidden // 2,
        o_lora_rank=hidden // 2,
        o_groups=2 if heads % 2 == 0 else 1,
        moe_intermediate_size=2 * hidden,
        n_routed_experts=4,
        num_experts_per_tok=2,
        n_shared_experts=1,
        layer_types=layer_types,
        mlp_layer_types=["hash_moe"] + ["moe"] * (layers - 1),
        compress_rates={"compressed_sparse_attention": 4, "heavily_compressed_attention": 128},
        sliding_window=128,
        index_n_heads=heads,
        index_head_dim=max(8, hidden // 4),
        # Small enough that top-k selection actually drops compressed rows once a prompt passes
        # ~128 tokens (the real 512 would only bite past 2048).
        index_topk=32,
        hc_mult=4,
        num_nextn_predict_layers=0,  # no MTP weights are written, so none are announced
        rope_theta=10000.0,
        compress_rope_theta=160000.0,
        rope_parameters={
            "rope_type": "yarn",
            "factor": 16.0,
            "original_max_position_embeddings": max(1, max_context // 16),
            "beta_fast": 32.0,
            "beta_slow": 1.0,
        },
    )


def _randomize_hash_routing(model: torch.nn.Module, *, seed: int) -> None:
    """Give hash-MoE layers a random token->experts table; transformers initialises it to zeros
    (real values come from the checkpoint), which would send every token to expert 0."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        table = getattr(module, "tid2eid", None)
        if isinstance(table, torch.Tensor):
            vocab, top_k = table.shape
            # Distinct experts per token, like a real routing table.
            scores = torch.rand(vocab, model.config.n_routed_experts, generator=generator)
            table.copy_(scores.argsort(dim=1)[:, :top_k])

"""A checkpoint folder's files checked before any weight is read: config.json, the safetensors index, every
shard's header and length, and whether the config and the tensors describe the same model.

Loading a 150 GB checkpoint only to fail on its last shard wastes a quarter of an hour and, in transformers,
ends in a traceback far from the cause. Everything here reads metadata only (JSON and each shard's header, a
few kilobytes), and every problem becomes one CheckpointError naming the file. It never reads tensor data.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from engine.api import ModelNotFoundError

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
_PICKLED = ("pytorch_model.bin", "pytorch_model.bin.index.json")
_HEADER_LIMIT = 100 * 1024 * 1024  # safetensors' own cap on a header
_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.")
# Names a published checkpoint carries that transformers does not build (DeepSeek's multi-token prediction).
_IGNORED = re.compile(r"(?:^|\.)mtp\.")


class CheckpointError(ModelNotFoundError):
    """A checkpoint folder that cannot be loaded as it is; the message names the file and what is wrong."""

    code = "checkpoint_invalid"


@dataclass(frozen=True)
class TensorInfo:
    dtype: str  # safetensors' name: BF16, F8_E4M3, F8_E8M0, I8, ...
    shape: tuple[int, ...]
    nbytes: int
    file: str


@dataclass(frozen=True)
class CheckpointFiles:
    """What a folder's metadata says: its config and, per tensor name, dtype, shape and shard."""

    directory: Path
    config: dict
    tensors: dict[str, TensorInfo] = field(default_factory=dict)

    @property
    def quant_method(self) -> str | None:
        quantization = self.config.get("quantization_config") or {}
        return quantization.get("quant_method") if isinstance(quantization, dict) else None

    def loaded_tensors(self) -> dict[str, TensorInfo]:
        """The tensors transformers builds a module for: published extras (the MTP layer) are skipped."""
        layers = self.config.get("num_hidden_layers")
        return {name: info for name, info in self.tensors.items() if not _is_extra(name, layers)}


def _is_extra(name: str, layers: int | None) -> bool:
    if _IGNORED.search(name):
        return True
    match = _LAYER.search(name)
    return bool(match and isinstance(layers, int) and int(match.group(1)) >= layers)


def read_config(directory: Path) -> dict:
    path = Path(directory) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CheckpointError(f"{path} is missing: a model checkpoint folder needs its config.json.") from error
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path} cannot be read as JSON ({error}).") from error
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} holds {type(config).__name__}, not a JSON object.")
    return config


def check_quantization(config: dict, config_path: Path) -> None:
    """A quant_method transformers has no quantizer for fails here, not after the weights were read."""
    quantization = config.get("quantization_config")
    if quantization is None:
        return
    method = quantization.get("quant_method") if isinstance(quantization, dict) else None
    from transformers.quantizers.auto import AUTO_QUANTIZER_MAPPING

    if method not in AUTO_QUANTIZER_MAPPING:
        raise CheckpointError(
            f"{config_path}: quantization_config.quant_method {method!r} is not a format this engine can load "
            f"(DeepSeek-V4-Flash uses 'fp8'; transformers also reads {', '.join(sorted(AUTO_QUANTIZER_MAPPING)[:6])}, ...)."
        )


def inspect_checkpoint(directory: str | Path) -> CheckpointFiles:
    """Check a local checkpoint folder's metadata; raise CheckpointError naming the first broken file."""
    directory = Path(directory)
    config = read_config(directory)
    check_quantization(config, directory / "config.json")
    index_path = directory / INDEX
    if index_path.is_file():
        weight_map = _read_index(index_path)
        files = sorted(set(weight_map.values()))
    elif (directory / SINGLE).is_file():
        weight_map, files = None, [SINGLE]
    elif any(directory.glob("*.gguf")) or any((directory / name).is_file() for name in _PICKLED):
        return CheckpointFiles(directory, config)  # GGUF and pickled weights: transformers' readers check their files
    else:
        raise CheckpointError(f"{directory} has neither {SINGLE} nor {INDEX}: no weights to load.")
    tensors: dict[str, TensorInfo] = {}
    for name in files:
        for tensor, info in _read_header(directory / name).items():
            tensors[tensor] = info
    if weight_map is not None:
        for tensor, file in weight_map.items():
            if tensor not in tensors or tensors[tensor].file != file:
                raise CheckpointError(f"{index_path} lists {tensor} in {file}, but {directory / file} does not hold it.")
    checkpoint = CheckpointFiles(directory, config, tensors)
    _check_against_config(checkpoint, index_path if weight_map is not None else directory / SINGLE)
    return checkpoint


def _read_index(path: Path) -> dict[str, str]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        weight_map = index["weight_map"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is not a safetensors index (JSON with a weight_map): {error}.") from error
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{path} has an empty or malformed weight_map.")
    for file in set(weight_map.values()):
        if not isinstance(file, str) or "/" in file or file.startswith("."):
            raise CheckpointError(f"{path} names a shard {file!r} outside the checkpoint folder.")
        if not (path.parent / file).is_file():
            raise CheckpointError(f"{path.parent / file} is missing: {path.name} lists tensors in it.")
    return weight_map


def _read_header(path: Path) -> dict[str, TensorInfo]:
    """A safetensors file's header (8-byte length, then JSON), checked against the file's length."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise CheckpointError(f"{path} is truncated: {size} bytes, too short for a safetensors header.")
            (length,) = struct.unpack("<Q", prefix)
            if length > _HEADER_LIMIT or 8 + length > size:
                raise CheckpointError(f"{path} is truncated or not a safetensors file (header of {length} bytes in a {size}-byte file).")
            header = json.loads(handle.read(length))
    except OSError as error:
        raise CheckpointError(f"{path} cannot be read: {error}.") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path} is not a safetensors file: its header is not JSON ({error}).") from error
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file: its header is not a JSON object.")
    tensors: dict[str, TensorInfo] = {}
    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = (int(v) for v in entry["data_offsets"])
            info = TensorInfo(str(entry["dtype"]), tuple(int(d) for d in entry["shape"]), end - start, path.name)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{path}: the header entry for {name} is malformed ({error}).") from error
        tensors[name] = info
        data_end = max(data_end, end)
    if 8 + length + data_end > size:
        raise CheckpointError(
            f"{path} is truncated: its header describes {8 + length + data_end:,} bytes but the file has {size:,}."
        )
    return tensors


def _check_against_config(checkpoint: CheckpointFiles, where: Path) -> None:
    """The config and the tensors must describe one model: every decoder layer present, the vocabulary and
    width the embedding has."""
    config = checkpoint.config
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    layers = text.get("num_hidden_layers")
    loaded = checkpoint.loaded_tensors()
    if isinstance(layers, int) and any(_LAYER.search(name) for name in loaded):
        present = {int(match.group(1)) for name in loaded if (match := _LAYER.search(name))}
        missing = sorted(set(range(layers)) - present)
        if missing:
            raise CheckpointError(
                f"{checkpoint.directory / 'config.json'} says num_hidden_layers={layers}, but {where} has no tensors "
                f"for layer{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing[:8]))}."
            )
    embedding = next((info for name, info in loaded.items() if name.endswith(("embed_tokens.weight", "embed.weight", "wte.weight"))), None)
    vocab, hidden = text.get("vocab_size"), text.get("hidden_size")
    if embedding is not None and len(embedding.shape) == 2:
        rows, width = embedding.shape
        if isinstance(vocab, int) and rows != vocab or isinstance(hidden, int) and width != hidden:
            raise CheckpointError(
                f"{checkpoint.directory / 'config.json'} says vocab_size={vocab}, hidden_size={hidden}, but the "
                f"embedding in {checkpoint.directory / embedding.file} is {rows} x {width}."
            )

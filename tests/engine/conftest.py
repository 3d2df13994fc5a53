"""Tiny random-weight checkpoints for the engine tests, built locally by engine.tiny (the same
code as `python -m engine tiny-model`) and cached between runs: nothing is ever downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

ARCHS = ("llama", "qwen2", "qwen3")


@pytest.fixture(scope="session")
def tiny_dirs() -> dict[str, Path]:
    from engine.tiny import cached_tiny_model

    return {arch: cached_tiny_model(arch, max_context=16384) for arch in ARCHS}

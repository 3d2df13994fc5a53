"""bench/gpu_v4.py gets one call on a lent GPU; its --dry-run does every step on the CPU at toy sizes (the Triton
kernel under Triton's interpreter), so that call cannot fail on a typo, a renamed function or a wrong shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_benchmark_runs_every_step_on_the_cpu_and_writes_nothing():
    results = (ROOT / "bench" / "RESULTS.md").read_bytes()
    done = subprocess.run([sys.executable, "bench/gpu_v4.py", "--dry-run"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    steps = ("published layout, 2,048 tokens", "published layout: memory after load", "larger random V4",
             "prefill 256 tokens", "prefill 600 tokens", "decode after 600 tokens", "Triton kernel vs PyTorch path")
    assert [any(step in row for row in rows) for step in steps] == [True] * len(steps), done.stdout
    # On the CPU both sides dequantize the same files and the memory is counted, not measured: exact.
    assert "greedy agreement 100.0%" in done.stdout and done.stdout.count("(x1.000)") == 2
    kernel = next(row for row in rows if row.startswith("| Triton"))
    assert float(kernel.split("max abs diff ")[1].split(";")[0]) < 1e-4
    assert (ROOT / "bench" / "RESULTS.md").read_bytes() == results

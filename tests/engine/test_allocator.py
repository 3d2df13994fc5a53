"""The glibc malloc tuning the CPU engine applies at load (engine/local/allocator.py): process-wide, so each
case runs in its own interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
from engine.local import allocator
tuned = allocator.tune_for_tensors()
# glibc answers mallopt with 1 when it accepts a value: asking again for the same threshold proves nothing, so
# read the effect instead: a 64 MiB block is served from the heap (below the raised threshold) or by mmap.
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
block = libc.malloc(64 << 20)
with open("/proc/self/maps") as maps:
    in_heap = any("[heap]" in line and int(line.split("-")[0], 16) <= block < int(line.split()[0].split("-")[1], 16)
                  for line in maps)
print(tuned, in_heap)
"""


def probe(monkeypatch_env: dict[str, str]) -> tuple[str, str]:
    import os

    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                          env={**os.environ, **monkeypatch_env})
    tuned, in_heap = done.stdout.split()
    return tuned, in_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_blocks_come_from_the_heap_once_tuned():
    assert probe({}) == ("True", "True")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_setting_leaves_glibc_defaults():
    assert probe({"QUIRE_ENGINE_MALLOC_TUNING": "0"}) == ("False", "False")

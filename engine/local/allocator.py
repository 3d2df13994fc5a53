"""Keep glibc from handing every large tensor back to the kernel on CPU.

PyTorch's CPU allocator has no cache of its own: each tensor is a malloc. glibc serves blocks above its mmap
threshold (128 KiB, raised dynamically to at most 32 MiB) with a fresh mmap and unmaps them on free, so each
prefill chunk's activations and each read-back of a long history (tens of MiB at 64K tokens) fault their
pages in again. glibc raises its threshold by itself as large blocks are freed, so this matters for an engine's
first long requests: bench/engine_malloc.py (bench/RESULTS.md) measured the first 4K-token prefill after a
warm-up at 2.85 s against 3.51 s with glibc's defaults, and no difference from the second request on. The usual advice for PyTorch CPU inference is to preload jemalloc or tcmalloc; this gets the
same effect without a native dependency, and only where the process runs on glibc.

Freed blocks stay in the process heap for reuse: peak RSS is unchanged (bench/RESULTS.md), but RSS no longer
falls back between requests. QUIRE_ENGINE_MALLOC_TUNING=0 leaves glibc's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

logger = logging.getLogger(__name__)

# mallopt(3) parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 256 << 20  # blocks larger than any per-chunk tensor of a CPU-sized model still get mmap
TRIM_THRESHOLD_BYTES = 1 << 30  # keep up to 1 GiB of free heap instead of trimming it after every request

_tuned = False


def tune_for_tensors() -> bool:
    """Raise glibc's mmap and trim thresholds once per process. Returns whether they are now raised."""
    global _tuned
    if _tuned:
        return True
    if os.environ.get("QUIRE_ENGINE_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    if not _tuned:
        logger.info("glibc refused the malloc thresholds; large tensors keep their own mappings")
    return _tuned

"""KV-cache memory planning: how many cache pages a budget buys, and the longest context they hold.

Pure arithmetic over the model config; it allocates nothing and never imports the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.api import ContextOverflowError

# Default share of host memory the CPU cache may take when no budget is given.
_DEFAULT_HOST_FRACTION = 0.25
# Without a budget, plan for this many full-length sequences at most (the library queues the rest).
_DEFAULT_SEQUENCES = 4


@dataclass(frozen=True)
class MemoryPlan:
    page_size: int
    num_blocks: int
    max_batch_tokens: int
    kv_bytes_per_token: int  # the KV cache itself: 2 (K and V) x layers x kv heads x head_dim x dtype
    overhead_bytes_per_token: int  # what attention adds per cached token: KV read back (+ mask row, repeated heads for sdpa)
    max_context: int
    budget_bytes: int

    @property
    def cache_tokens(self) -> int:
        return self.num_blocks * self.page_size

    def check_fits(self, *, prompt_tokens: int, max_tokens: int) -> None:
        """Refuse, before any compute, a request whose prompt plus new tokens cannot be held."""
        needed = prompt_tokens + max_tokens
        if needed > self.max_context:
            raise ContextOverflowError(
                f"The prompt has {prompt_tokens} tokens and {max_tokens} new tokens were asked for "
                f"({needed} in all), but this engine holds at most {self.max_context} tokens "
                f"(model limit and a KV-cache budget of {self.budget_bytes} bytes at "
                f"{self.kv_bytes_per_token + self.overhead_bytes_per_token} bytes per token)."
            )


def _head_dim(config) -> int:
    head_dim = getattr(config, "head_dim", None)
    return head_dim if head_dim else config.hidden_size // config.num_attention_heads


def kv_bytes_per_token(config, *, dtype_bytes: int) -> int:
    """K and V of every layer for one token: 2 x layers x kv heads x head_dim x dtype."""
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    return 2 * config.num_hidden_layers * kv_heads * _head_dim(config) * dtype_bytes


def host_memory_bytes() -> int:
    return _meminfo_bytes("MemTotal") or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def host_available_bytes() -> int:
    """Memory the kernel could hand out now without swapping (MemAvailable), or the total where it cannot say."""
    return _meminfo_bytes("MemAvailable") or host_memory_bytes()


def _meminfo_bytes(field: str) -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def plan_memory(
    config,
    *,
    dtype_bytes: int,
    page_size: int,
    max_batch_tokens: int,
    budget_bytes: int | None,
    uses_mask: bool,
    default_budget_bytes: int | None = None,
    cache_tokens: int | None = None,
) -> MemoryPlan:
    """Size the paged cache from a budget. `uses_mask`: sdpa/eager build an explicit mask of
    max_batch_tokens x (cache + batch) and repeat the KV heads when reading; flash-attention and
    engine.local.attention do neither."""
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = _head_dim(config)
    kv_bytes = kv_bytes_per_token(config, dtype_bytes=dtype_bytes)
    if uses_mask:
        # Mirrors transformers' PagedAttentionMemoryHandler.bytes_per_cache_token and attention_mask_bytes.
        overhead = (2 * heads + kv_heads) * head_dim * dtype_bytes + max_batch_tokens * dtype_bytes
    else:
        overhead = 2 * kv_heads * head_dim * dtype_bytes
    per_token = kv_bytes + overhead
    model_limit = int(getattr(config, "max_position_embeddings", 0) or 0) or 1 << 20

    if cache_tokens is not None:
        # Exactly the pages one known request needs: a bigger cache (and, with sdpa, a bigger mask)
        # costs memory for nothing (bench/RESULTS.md: +2.5 GiB at 16K with the default budget).
        budget_bytes = per_token * page_size * -(-cache_tokens // page_size)
    elif budget_bytes is None:
        # Enough for a few full-length sequences, never more than a share of host memory.
        wanted = per_token * model_limit * _DEFAULT_SEQUENCES
        ceiling = default_budget_bytes or int(host_memory_bytes() * _DEFAULT_HOST_FRACTION)
        budget_bytes = min(wanted, ceiling)
    num_blocks = budget_bytes // (per_token * page_size)
    if num_blocks < 1:
        raise ContextOverflowError(
            f"A memory budget of {budget_bytes} bytes does not hold one {page_size}-token page "
            f"({per_token * page_size} bytes)."
        )
    return MemoryPlan(
        page_size=page_size,
        num_blocks=int(num_blocks),
        max_batch_tokens=max_batch_tokens,
        kv_bytes_per_token=kv_bytes,
        overhead_bytes_per_token=overhead,
        max_context=int(min(model_limit, num_blocks * page_size)),
        budget_bytes=int(budget_bytes),
    )

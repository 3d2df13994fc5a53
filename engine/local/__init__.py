"""The in-process engine: transformers' continuous-batching paged KV cache, wrapped with loading,
memory planning, progress, cancellation, prefix reuse and structured output. Never imports analysis/ or webapp/."""

from engine.local.engine import LocalEngine

__all__ = ["LocalEngine"]

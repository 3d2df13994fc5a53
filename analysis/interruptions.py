"""Recognises exceptions that stop work from outside (memory, time limits), not a bad document.

Code that turns unexpected failures into QuireErrors must re-raise these; it must never import
the worker framework that defines them.
"""

from __future__ import annotations

# Celery's soft time limit (billiard's SoftTimeLimitExceeded) derives from plain Exception, so a
# broad "except Exception" would report a slow file as a damaged one. Matching the name keeps
# this package free of any Celery import.
_INTERRUPTION_NAMES = frozenset({"SoftTimeLimitExceeded"})


def is_interruption(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, TimeoutError)):
        return True
    return any(cls.__name__ in _INTERRUPTION_NAMES for cls in type(exc).__mro__)

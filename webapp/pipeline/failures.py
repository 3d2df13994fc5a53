"""What a failed step means: errors of the infrastructure are retried, every other known error becomes a code and a
message the user reads on the document (or analysis, or question), and anything else is a bug that the task's last
resort records as an internal error, so nothing is ever left stuck at some percent."""

from __future__ import annotations

from dataclasses import dataclass

import redis.exceptions
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from analysis.errors import QuireError
from engine.api import EngineError

# Only errors of the infrastructure are retried; a bad document fails once, clearly.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class Failure:
    code: str
    message: str


# What each step is called when it runs out of time, and the soft limit it ran under.
_TIMED_STEPS = {
    "ingest": ("Reading the file", "QUIRE_INGEST_SOFT_TIME_LIMIT"),
    "read": ("Analysis", "QUIRE_ANALYSE_SOFT_TIME_LIMIT"),
    "analysis": ("The analysis", "QUIRE_ANALYSE_SOFT_TIME_LIMIT"),
    "answer": ("The answer", "QUIRE_ANALYSE_SOFT_TIME_LIMIT"),
}

DOCUMENT_INTERNAL = Failure("internal_error",
                            "Quire hit an internal error while processing this document. The original file is kept.")
ANALYSIS_INTERNAL = Failure("internal_error",
                            "Quire hit an internal error during this analysis; the document and its report are unaffected.")
ANSWER_INTERNAL = Failure("internal_error", "Quire hit an internal error while answering; ask again.")


def failure_of(error: BaseException, *, step: str) -> Failure | None:
    """The failure a known error means for `step` ("ingest", "read", "analysis", "answer"); None for an error
    nobody expected, which the caller lets through to the task's last resort."""
    if isinstance(error, (QuireError, EngineError)):
        return Failure(error.code, error.message)
    if isinstance(error, SoftTimeLimitExceeded):
        what, limit = _TIMED_STEPS[step]
        return Failure("timeout", f"{what} took longer than {getattr(settings, limit)} seconds.")
    if isinstance(error, FileNotFoundError) and step == "ingest":
        return Failure("file_missing", "The stored file is missing.")
    return None


# The errors `failure_of` knows, for an `except` clause around a step.
KNOWN_ERRORS = (QuireError, EngineError, SoftTimeLimitExceeded, FileNotFoundError)

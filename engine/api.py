"""The Engine protocol and its request/response types: the only names other packages import.

Every engine (in-process local, `engine serve`, vLLM, SGLang, a hosted API) is reached through this
shape, which mirrors the OpenAI chat/completions API. Nothing here knows about HTTP handlers,
users or the database, and nothing here imports torch: the web app must be able to import it cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# Written beside the weights of a random-weight checkpoint (`python -m engine tiny-model`), so whatever loads the
# folder later can tell its readers that the output means nothing.
RANDOM_WEIGHTS_MARKER = "QUIRE_RANDOM_WEIGHTS"


def is_random_weight_checkpoint(source: str | Path) -> bool:
    """True for a local folder built by `python -m engine tiny-model`; a hub id or any other folder: False."""
    try:
        return (Path(source) / RANDOM_WEIGHTS_MARKER).is_file()
    except (OSError, ValueError):
        return False


class EngineError(Exception):
    """A request an engine could not serve, with a message fit to show an operator."""

    code: str = "engine_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContextOverflowError(EngineError):
    """The prompt plus the requested new tokens do not fit the model's context or the memory budget."""

    code = "context_overflow"


class ModelNotFoundError(EngineError):
    code = "model_not_found"


class EngineUnavailableError(EngineError):
    """The engine cannot be reached (server down, hub unreachable offline, retries exhausted)."""

    code = "engine_unavailable"


class InvalidRequestError(EngineError):
    """The request itself is wrong (malformed JSON schema, empty prompt, bad parameter)."""

    code = "invalid_request"


class CancelledError(EngineError):
    code = "cancelled"


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """Either `messages` (chat, the model's chat template applies) or `prompt` (raw text)."""

    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    max_tokens: int = 1024
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}} as in the OpenAI API.
    response_format: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if bool(self.messages) == (self.prompt is not None):
            raise InvalidRequestError("A request needs exactly one of `messages` or `prompt`.")
        if self.max_tokens < 1:
            raise InvalidRequestError("max_tokens must be at least 1.")


class Stage:
    LOADING = "loading"
    PREFILL = "prefill"
    DECODE = "decode"


@dataclass(frozen=True)
class GenerationProgress:
    """Reported while a request runs: which stage, and tokens done out of the stage's total."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class GenerationResult:
    text: str
    token_ids: tuple[int, ...]
    prompt_tokens: int
    generated_tokens: int
    finish_reason: str  # "stop", "length" or "cancelled"
    # Measured timings and memory, where the engine knows them (local engines do).
    prefill_seconds: float | None = None
    decode_seconds: float | None = None
    cached_prompt_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@runtime_checkable
class Engine(Protocol):
    model_id: str
    max_context: int

    def generate(
        self,
        request: GenerationRequest,
        on_progress: Callable[[GenerationProgress], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult: ...

    def stream(
        self,
        request: GenerationRequest,
        on_progress: Callable[[GenerationProgress], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> Generator[str, None, GenerationResult]:
        """Yields the generated text piece by piece as it is decoded; the generator's return value (the
        StopIteration's) is the whole GenerationResult, as `generate` would have returned it."""
        ...

    def count_tokens(self, text: str) -> int: ...


def drain(pieces: Generator[str, None, GenerationResult],
          on_text: Callable[[str], None] | None = None) -> GenerationResult:
    """Runs a `stream()` to its end and returns its result; `on_text`, if given, sees the text so far after each
    piece (how a caller shows a reply as it is written without giving up the result's counts)."""
    text = []
    while True:
        try:
            piece = next(pieces)
        except StopIteration as done:
            return done.value
        if on_text is not None:
            text.append(piece)
            on_text("".join(text))

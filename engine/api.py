"""The Engine protocol and its request/response types: the only names other packages import.

Every engine (in-process local, `engine serve`, vLLM, SGLang, a hosted API) speaks the shape of the
OpenAI chat/completions API. Nothing here knows about HTTP handlers, users or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    max_new_tokens: int = 1024
    temperature: float = 0.0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationProgress:
    """Reported while a request runs: how much of the prompt is read, how many tokens are out."""

    prompt_tokens_done: int
    prompt_tokens_total: int
    generated_tokens: int = 0


@dataclass(frozen=True)
class GenerationResult:
    text: str
    prompt_tokens: int
    generated_tokens: int
    finish_reason: str
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    name: str

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: Callable[[GenerationProgress], None] | None = None,
    ) -> GenerationResult: ...

"""The Engine protocol's plumbing shared by the in-process engines: generate() and stream() over one
`_run` generator (which yields text pieces and returns the GenerationResult), token counting, and the
decoding of generated ids into text with stop strings applied."""

from __future__ import annotations

from collections.abc import Callable, Generator

from engine.api import (
    CancelledError,
    CancelToken,
    GenerationProgress,
    GenerationRequest,
    GenerationResult,
    InvalidRequestError,
    drain,
)
from engine.local.structured import schema_of

ProgressCallback = Callable[[GenerationProgress], None] | None


def prompt_ids(tokenizer, request: GenerationRequest, *, model_id: str) -> list[int]:
    """The token ids the model sees for a request: chat template for messages, the raw text otherwise."""
    if request.prompt is not None:
        ids = tokenizer.encode(request.prompt, add_special_tokens=True)
    else:
        if not getattr(tokenizer, "chat_template", None):
            raise InvalidRequestError(f"{model_id} has no chat template; send a raw `prompt` instead of `messages`.")
        text = tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in request.messages], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer.encode(text, add_special_tokens=False)
    if not ids:
        raise InvalidRequestError("The prompt is empty after tokenisation.")
    return list(ids)


class RunDrivenEngine:
    """Subclasses set tokenizer, model_id, plan (engine.local.memory.MemoryPlan) and _grammars, and write _run."""

    tokenizer: object

    def _run(self, request: GenerationRequest, on_progress: ProgressCallback, cancel: CancelToken | None):
        raise NotImplementedError

    def prompt_ids(self, request: GenerationRequest) -> list[int]:
        """The token ids the model sees for a request: chat template for messages, the raw text otherwise."""
        return prompt_ids(self.tokenizer, request, model_id=self.model_id)

    def _admit(self, request: GenerationRequest):
        """Refuse a request before any compute (bad parameters, schema, too long); its ids and compiled grammar."""
        if request.temperature < 0 or not 0 < request.top_p <= 1:
            raise InvalidRequestError("temperature must be >= 0 and top_p in (0, 1].")
        schema = schema_of(request.response_format)
        ids = self.prompt_ids(request)
        self.plan.check_fits(prompt_tokens=len(ids), max_tokens=request.max_tokens)
        return ids, (self._grammars.compile(schema) if schema is not None else None)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback = None,
                 cancel: CancelToken | None = None) -> GenerationResult:
        """A cancelled request returns what it had with finish_reason "cancelled" (stream() raises instead)."""
        return drain(self._run(request, on_progress, cancel))

    def stream(self, request: GenerationRequest, on_progress: ProgressCallback = None,
               cancel: CancelToken | None = None) -> Generator[str, None, GenerationResult]:
        """Text pieces as decoded, then the whole result as the generator's return value; a cancelled request
        raises CancelledError after the pieces it produced."""
        result = yield from self._run(request, on_progress, cancel)
        if result.finish_reason == "cancelled":
            raise CancelledError(f"Cancelled after {result.generated_tokens} generated tokens.")
        return result

    def _decode(self, tokens: list[int], stop: tuple[str, ...]) -> tuple[str, bool]:
        """The text of `tokens`, cut at the first stop string (and whether one was found)."""
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            text = text.rstrip("\ufffd")  # half a multi-byte character: wait for the rest
        cut = min((text.find(s) for s in stop if s and s in text), default=-1)
        return (text[:cut], True) if cut >= 0 else (text, False)

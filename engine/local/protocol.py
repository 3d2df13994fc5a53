"""The Engine protocol's plumbing shared by the in-process engines: generate() and stream() over one
`_run` generator (which yields text pieces and returns the GenerationResult), token counting, and the
decoding of generated ids into text with stop strings applied."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from engine.api import CancelledError, CancelToken, GenerationProgress, GenerationRequest, GenerationResult

ProgressCallback = Callable[[GenerationProgress], None] | None


class RunDrivenEngine:
    tokenizer: object

    def _run(self, request: GenerationRequest, on_progress: ProgressCallback, cancel: CancelToken | None):
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback = None,
                 cancel: CancelToken | None = None) -> GenerationResult:
        """A cancelled request returns what it had with finish_reason "cancelled" (stream() raises instead)."""
        run = self._run(request, on_progress, cancel)
        while True:
            try:
                next(run)
            except StopIteration as done:
                return done.value

    def stream(self, request: GenerationRequest, on_progress: ProgressCallback = None,
               cancel: CancelToken | None = None) -> Iterator[str]:
        """Text pieces as decoded; a cancelled request raises CancelledError after the pieces it produced."""
        result = yield from self._run(request, on_progress, cancel)
        if result.finish_reason == "cancelled":
            raise CancelledError(f"Cancelled after {result.generated_tokens} generated tokens.")

    def _decode(self, tokens: list[int], stop: tuple[str, ...]) -> tuple[str, bool]:
        """The text of `tokens`, cut at the first stop string (and whether one was found)."""
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            text = text.rstrip("\ufffd")  # half a multi-byte character: wait for the rest
        cut = min((text.find(s) for s in stop if s and s in text), default=-1)
        return (text[:cut], True) if cut >= 0 else (text, False)

"""Test doubles shared by the analysis and web app tests. The product never uses them."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.api import GenerationProgress, GenerationResult, Stage


@dataclass
class ScriptedEngine:
    """Replays `replies` in order; counts words as tokens."""

    replies: list[str]
    max_context: int = 100_000
    model_id: str = "scripted-test-double"
    requests: list = field(default_factory=list)
    cancel_after_prefill: bool = False
    finish_reasons: list[str] = field(default_factory=list)  # one per reply, in order; "stop" when run out

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, request, on_progress=None, cancel=None) -> GenerationResult:
        self.requests.append(request)
        prompt_tokens = sum(self.count_tokens(m.content) for m in request.messages)
        for done in (0, prompt_tokens // 2, prompt_tokens):
            if on_progress:
                on_progress(GenerationProgress(Stage.PREFILL, done, prompt_tokens))
            if cancel is not None and cancel.is_set():
                return GenerationResult("", (), prompt_tokens, 0, "cancelled")
        text = self.replies.pop(0)
        finish = self.finish_reasons.pop(0) if self.finish_reasons else "stop"
        generated = max(1, self.count_tokens(text))
        if on_progress:
            on_progress(GenerationProgress(Stage.DECODE, generated, request.max_tokens))
        return GenerationResult(text, (1,) * generated, prompt_tokens, generated, finish, prefill_seconds=0.01,
                                decode_seconds=0.01)

    piece_chars: int = 7  # stream() hands out the reply this many characters at a time
    on_piece: object = None  # called with the text so far after each piece: a test looks at the world mid-stream

    def stream(self, request, on_progress=None, cancel=None):
        result = self.generate(request, on_progress, cancel)
        for at in range(0, len(result.text), self.piece_chars):
            yield result.text[at:at + self.piece_chars]
            if self.on_piece is not None:
                self.on_piece(result.text[:at + self.piece_chars])
        return result

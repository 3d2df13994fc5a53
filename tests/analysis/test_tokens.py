"""Counting in slices gives the same number as one tokenizer call over the whole text."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.tokens import count_tokens_in_slices


@pytest.mark.engine
def test_slices_count_the_same_as_one_call_with_a_real_bpe_tokenizer(corpus: Path) -> None:
    from engine.tokenizer_train import cached_tokenizer

    tokenizer = cached_tokenizer()
    text = "\n\n".join(p.read_text() for p in sorted((corpus / "cuad_train").glob("*.txt"))[:5])

    def count(piece: str) -> int:
        return len(tokenizer.encode(piece, add_special_tokens=False))

    whole = count(text)
    sliced = count_tokens_in_slices(text, count, slice_chars=5_000)
    assert len(text) > 50_000
    assert abs(sliced - whole) <= whole * 0.001  # a BPE merge across a cut is the only difference


def test_slices_never_split_a_word() -> None:
    seen: list[str] = []
    text = " ".join(f"word{i}" for i in range(5000))
    total = count_tokens_in_slices(text, lambda piece: seen.append(piece) or len(piece.split()), slice_chars=1000)
    assert total == 5000
    assert len(seen) > 10
    assert "".join(seen) == text

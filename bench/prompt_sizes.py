"""Prompt size of a contract review for each of CUAD's 40 checking contracts, read from their PDFs.

The prompt is exactly what analysis.review sends (system message, the document with page markers, the
contract playbook's 41 items), counted with the tokenizer of the tiny test models (a byte-level BPE trained
on the corpus, 4,096 entries): real models' tokenizers are not available offline, and one with a larger
vocabulary gives fewer tokens. Measures, never asserts.

    .venv/bin/python bench/prompt_sizes.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT.parent / "shared" / "corpus" / "contracts_cuad"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from analysis.ingest import ingest
    from analysis.playbooks import load
    from analysis.prompting import document_block, review_messages
    from engine.tokenizer_train import cached_tokenizer

    tokenizer = cached_tokenizer()
    playbook = load("contract")
    rows = []
    # The 40 labelled contracts (a .txt twin each); the folder also holds a scanned derivative of one.
    for path in sorted(p for p in CONTRACTS.iterdir() if p.suffix.lower() == ".pdf" and p.with_suffix(".txt").exists()):
        document = ingest(path)
        messages = review_messages(document_block(document.text, document.pages), playbook)
        text = tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in messages],
                                             add_generation_prompt=True, tokenize=False)
        document_tokens = len(tokenizer.encode(document.text, add_special_tokens=False))
        rows.append((path.name, len(document.pages), document_tokens, len(tokenizer.encode(text, add_special_tokens=False))))
    print("| contract | pages | document tokens | review prompt tokens |")
    print("| --- | ---: | ---: | ---: |")
    for name, pages, document_tokens, prompt_tokens in rows:
        print(f"| {name[:70]} | {pages} | {document_tokens:,} | {prompt_tokens:,} |")
    prompts = [r[3] for r in rows]
    print(f"\n{len(rows)} contracts: review prompt median {statistics.median(prompts):,.0f} tokens, "
          f"max {max(prompts):,}, total {sum(prompts):,}; the playbook's own part is "
          f"{prompts[0] - rows[0][2]:,} tokens of the first.")


if __name__ == "__main__":
    main()

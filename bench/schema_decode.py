"""JSON-schema requests on the demo model: the local engine's continuous batch (each request's xgrammar matcher masks
its own row) against its peer, transformers' `model.generate` with xgrammar's own logits processor (the path these
requests took before). The same review prompt (a CUAD contract's first window and six contract items, Quire's own
prompt and schema), asked twice in a row as a review asks each item group of a window; greedy; the same tokens from
both (checked). Measures, never asserts; appends to bench/RESULTS.md.

    .venv/bin/python bench/schema_decode.py
    .venv/bin/python bench/schema_decode.py --new-tokens 64 --no-write
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from results_file import append_section  # noqa: E402

CONTRACT = ROOT.parent / "shared" / "corpus" / "contracts_cuad" / "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import LogitsProcessorList

    from analysis.findings import output_schema
    from analysis.playbooks import load
    from analysis.prompting import as_json_schema, review_messages
    from engine.api import GenerationRequest
    from engine.demo_model import cached_demo_model
    from engine.local import LocalEngine

    torch.set_num_threads(args.threads)
    playbook = load("contract")
    playbook = replace(playbook, items=playbook.items[:6])
    messages = review_messages(CONTRACT.read_text()[:9000], playbook)
    request = GenerationRequest(messages=messages, max_tokens=args.new_tokens, temperature=0.0,
                                response_format=as_json_schema(output_schema(playbook), "bench"))
    engine = LocalEngine.from_pretrained(cached_demo_model(), device="cpu", context=8192)
    ids = engine.prompt_ids(request)
    grammar = engine._grammars.compile(request.response_format["json_schema"]["schema"])

    rows = []
    for ask in (1, 2):
        started = time.perf_counter()
        result = engine.generate(request)
        rows.append(("continuous batch", ask, time.perf_counter() - started, result.prefill_seconds,
                     (result.generated_tokens - 1) / result.decode_seconds, result.cached_prompt_tokens, result.token_ids))
    for ask in (1, 2):
        inputs = torch.tensor([ids])
        started = time.perf_counter()
        first: list[float] = []

        class FirstToken:  # the moment the first new token is chosen
            def put(self, value):
                first.append(time.perf_counter())

            def end(self):
                pass

        with torch.no_grad():
            out = engine.model.generate(inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=args.new_tokens,
                                        do_sample=False, eos_token_id=engine.eos_token_ids, pad_token_id=engine.eos_token_ids[0],
                                        logits_processor=LogitsProcessorList([engine._grammars.processor(grammar)]),
                                        streamer=FirstToken())
        ended = time.perf_counter()
        tokens = tuple(out[0, len(ids):].tolist())
        prefill = first[1] - started  # put() is called with the prompt first, then with each new token
        rows.append(("model.generate + xgrammar processor", ask, ended - started, prefill,
                     (len(tokens) - 1) / (ended - first[1]), 0, tokens))
    engine.close()
    same = rows[0][6] == rows[2][6]
    lines = [f"| {name} | {ask} | {len(ids):,} | {cached:,} | {prefill:.2f} | {decode:.1f} | {wall:.1f} |"
             for name, ask, wall, prefill, decode, cached, _ in rows]
    print("\n".join(lines))
    print(f"same tokens from both paths: {same}")
    if args.no_write:
        return
    append_section("JSON-schema requests: the continuous batch against model.generate (bench/schema_decode.py)",
                   setup=f"{args.threads} threads; torch {torch.__version__}. SmolLM2-135M-Instruct (the demo model), float32, "
                         f"greedy, {args.new_tokens} tokens; the same prompt asked twice in a row on each path, as a review "
                         f"asks each item group of one window. Same tokens from both paths: {'yes' if same else 'NO'}.",
                   header="| path | ask | prompt tokens | served from cache | prefill s | decode tokens/s | wall s |\n"
                          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
                   rows=lines)


if __name__ == "__main__":
    main()

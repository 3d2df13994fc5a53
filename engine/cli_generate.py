"""`python -m engine generate`: one request through the in-process LocalEngine, from a prompt file, with its timings
and memory. A thin wrapper over LocalEngine; it must never hold engine logic nor print a traceback for a request
the engine refuses (EngineError becomes one line on stderr and exit status 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import resource
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.api import ChatMessage, EngineError, GenerationRequest, InvalidRequestError


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="local checkpoint directory or hub id")
    parser.add_argument("--prompt-file", required=True, type=Path, help="UTF-8 text file holding the prompt")
    parser.add_argument("--chat", action="store_true", help="send the file's text as one user message through the chat template")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--prefill-chunk", type=int, default=2048, help="prompt tokens per prefill forward pass (max_batch_tokens)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--memory-budget-gb", type=float, default=None,
                        help="KV-cache budget; default: exactly the pages this request needs")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 means greedy")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object with ids, timings and memory")
    parser.set_defaults(handler=run_generate)


def add_generate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "generate",
        help="generate from a prompt file with the in-process engine, reporting timings and memory",
        description="Run one request through the local engine (paged KV cache, chunked prefill).",
    )
    _configure(parser)
    return parser


def generate_main(argv: Sequence[str] | None = None) -> int:
    """The `generate` subcommand alone: argv holds its options only (no leading 'generate')."""
    parser = argparse.ArgumentParser(prog="python -m engine generate",
                                     description="Run one request through the local engine.")
    _configure(parser)
    return run_generate(parser.parse_args(argv))


def run_generate(args: argparse.Namespace) -> int:
    try:
        report = _generate(args)
    except EngineError as error:
        print(f"error ({error.code}): {error.message}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug, not a refusal: still one line, with a distinct status
        print(f"error (internal): {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report) if args.json else report["text"])
    return 0


def _request(args: argparse.Namespace) -> GenerationRequest:
    try:
        text = args.prompt_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRequestError(f"Cannot read the prompt file {args.prompt_file}: {error}.") from error
    if args.prefill_chunk < 1:
        raise InvalidRequestError("--prefill-chunk must be at least 1.")
    if args.memory_budget_gb is not None and args.memory_budget_gb <= 0:
        raise InvalidRequestError("--memory-budget-gb must be positive.")
    common = {"max_tokens": args.max_new_tokens, "temperature": args.temperature, "seed": args.seed}
    if args.chat:
        return GenerationRequest(messages=(ChatMessage("user", text),), **common)
    return GenerationRequest(prompt=text, **common)


def _generate(args: argparse.Namespace) -> dict:
    request = _request(args)  # refuse a bad file or option before torch is imported

    from transformers.utils import logging as hf_logging

    from engine.local import LocalEngine

    # One JSON object on stdout, one error line on stderr: no loading bars or info logs from the library.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # The batching logger is a plain `logging` logger outside transformers' verbosity; on CPU it logs that psutil is
    # missing. A failure of the batch loop still reaches us as an EngineError, so quieting it loses nothing.
    logging.getLogger("ContinuousBatchingLogger").setLevel(logging.CRITICAL)

    budget = int(args.memory_budget_gb * 2**30) if args.memory_budget_gb is not None else None
    # Without a budget the cache holds exactly this request: a bigger one costs memory for nothing.
    with LocalEngine.from_pretrained(
        args.model,
        device=args.device,
        memory_budget_bytes=budget,
        max_batch_tokens=args.prefill_chunk,
        size_for=None if budget is not None else request,
    ) as engine:
        plan = engine.plan
        result = engine.generate(request)

    held = result.prompt_tokens + result.generated_tokens
    return {
        "token_ids": list(result.token_ids),
        "text": result.text,
        "prompt_tokens": result.prompt_tokens,
        "generated_tokens": result.generated_tokens,
        "finish_reason": result.finish_reason,
        "prefill_seconds": result.prefill_seconds,
        "decode_seconds": result.decode_seconds,
        "cached_prompt_tokens": result.cached_prompt_tokens,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "kv_bytes": plan.num_blocks * plan.page_size * plan.kv_bytes_per_token,
        "kv_bytes_used": math.ceil(held / plan.page_size) * plan.page_size * plan.kv_bytes_per_token,
        "memory_budget_bytes": plan.budget_bytes,
        "max_context": plan.max_context,
        "prefill_chunk": args.prefill_chunk,
        "path": result.extra.get("path"),
    }


if __name__ == "__main__":
    sys.exit(generate_main())

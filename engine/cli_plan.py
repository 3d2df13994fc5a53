"""`python -m engine plan`: what a checkpoint needs in memory and whether this machine has it, before any weight
is read (engine.model_plan). Exit status 0 when it fits, 3 when it does not, 2 when the folder cannot be planned;
it must never load weights nor print a traceback for a broken checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.api import EngineError

EXIT_DOES_NOT_FIT = 3


def add_plan_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="say what memory a checkpoint needs (weights by dtype, cache per token) and whether it fits here",
        description="Plan a checkpoint's memory from its config.json alone (no tensor data is read): weights as "
        "loading would place them (FP8/FP4 kept on CUDA, dequantized on CPU) and the cache for --context tokens.",
    )
    parser.add_argument("--model", required=True, type=Path, help="checkpoint folder (config.json is enough)")
    parser.add_argument("--context", type=int, default=None, help="tokens the cache must hold; default: the model's limit")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    parser.set_defaults(handler=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    from engine.model_plan import plan_model

    if args.context is not None and args.context < 1:
        print("python -m engine plan: error: --context must be at least 1.", file=sys.stderr)
        return 2
    try:
        plan = plan_model(args.model, context=args.context, device=args.device)
    except EngineError as error:
        print(f"python -m engine plan: error: {error.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(plan.to_json(), indent=2))
    else:
        print(plan.message)
        for dtype, size in plan.weights_by_dtype.items():
            print(f"  weights {dtype:>16}: {size:>18,} bytes")
        for kind, size in plan.kv_by_layer_kind.items():
            print(f"  cache {kind:>30}: {size:>10,} bytes per token")
        print(f"  cache, fixed part (windows, checkpoints): {plan.kv_fixed_bytes:,} bytes")
        for note in plan.notes:
            print(f"  note: {note}")
    return 0 if plan.fits else EXIT_DOES_NOT_FIT

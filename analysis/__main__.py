"""`python -m analysis COMMAND`: the analysis package's command line, thin wrappers over the functions the web
app calls. It never shows a traceback: a document (or playbook) error exits 2 with its code, an engine error 3,
anything else 1.

    python -m analysis clauses PATH [--password P] [--min-score S] --json
    python -m analysis obligations PATH [--password P] (--json | --ics)
    python -m analysis run PATH --playbook {contract,report,FILE.json} --engine {local:DIR_OR_ID,URL} [--model NAME] --json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from analysis.errors import QuireError
from engine.api import EngineError

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_DOCUMENT_ERROR = 2
EXIT_ENGINE_ERROR = 3


def _clauses(args: argparse.Namespace) -> int:
    from analysis.first_pass.configured_finder import configured_finder
    from analysis.ingest import ingest

    # The same call as `python -m analysis.ingest PATH --text`, so offsets index into exactly that text.
    document = ingest(args.path, password=args.password)
    hits = configured_finder().find(document.text, document.pages, minimum=args.min_score)
    rows = [{"category": h.category, "start": h.start, "end": h.end, "page": h.pages[0] if h.pages else None,
             "score": round(h.score, 6)} for h in sorted(hits, key=lambda h: (h.start, -h.score, h.category))]
    if args.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    else:
        for row in sorted(rows, key=lambda r: -r["score"]):
            passage = " ".join(document.text[row["start"]:row["end"]].split())
            print(f"{row['score']:.3f}  p.{row['page'] or '?':<4} {row['category']:<36} {passage[:90]}")
    return EXIT_OK


def _obligations(args: argparse.Namespace) -> int:
    import hashlib

    from analysis.ingest import ingest
    from analysis.obligations import calendar_ics, document_obligations

    # Ingested as `clauses` ingests, so offsets index into the same text.
    document = ingest(args.path, password=args.password)
    found = document_obligations(document)
    if args.ics:
        digest = hashlib.sha256(Path(args.path).read_bytes()).hexdigest()
        sys.stdout.write(calendar_ics(found, document_name=Path(args.path).name, document_hash=digest).decode("utf-8"))
    elif args.json:
        sys.stdout.write(json.dumps([o.to_json() for o in found], ensure_ascii=False) + "\n")
    else:
        for o in found:
            page = o.passage.page or "?"
            print(f"{o.date}  {o.kind:<16} p.{page:<4} {o.derivation}")
    return EXIT_OK


def _engine(spec: str, model: str | None, max_context: int | None = None, extra_body: dict | None = None):
    """`local:DIR_OR_ID` (the in-process engine) or an OpenAI-compatible base URL (`engine serve`, vLLM, SGLang,
    llama.cpp's server). `max_context`: the server's context length where its /v1/models does not say it."""
    from engine.factory import LOCAL, EngineSpec, EngineSpecError, build_engine

    try:
        parsed = EngineSpec.parse(spec, model=model)
    except EngineSpecError:
        raise SystemExit(f"--engine must be local:DIR_OR_ID or an http(s) URL, not {spec!r}") from None
    if parsed.kind == LOCAL:  # the local engine plans its context from the checkpoint; the options are a server's
        return build_engine(parsed)
    if not model:
        import httpx

        try:
            listed = httpx.get(spec.rstrip("/") + "/models", timeout=30).json().get("data", [])
        except (httpx.HTTPError, ValueError) as error:
            raise SystemExit(f"could not list the models at {spec} ({type(error).__name__}); pass --model") from None
        model = listed[0]["id"] if listed else None
    if not model:
        raise SystemExit("the server lists no model; pass --model")
    return build_engine(replace(parsed, model=model, max_context=max_context, extra_body=extra_body))


EXTRA_BODY_HELP = ("a JSON object merged into each request to a server, for its own parameters "
                   "(llama-cpp-python: '{\"repeat_penalty\": 1.0}', or its default 1.1 makes greedy decoding not greedy)")


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _playbook(name: str):
    """A built-in by name, or a playbook JSON file (the shape analysis/playbooks/*.json has)."""
    from analysis.playbooks import BUILT_IN, PlaybookError, from_dict, load

    if name in BUILT_IN:
        return load(name)
    try:
        return from_dict(json.loads(Path(name).read_text(encoding="utf-8")))
    except OSError as error:
        raise PlaybookError(f"--playbook is {', '.join(BUILT_IN)} or a JSON file; cannot read {name!r} ({error.strerror}).") from None
    except json.JSONDecodeError as error:
        raise PlaybookError(f"{name} is not valid JSON ({error.msg}, line {error.lineno}).") from None


def _run(args: argparse.Namespace) -> int:
    from analysis.first_pass import pipeline as first_pass
    from analysis.ingest import ingest
    from analysis.review import review
    from engine.api import is_random_weight_checkpoint

    document = ingest(args.path, password=args.password)
    playbook = _playbook(args.playbook)
    engine = _engine(args.engine, args.model, args.max_context, args.extra_body)
    first = None
    if playbook.kind == "contract":
        first = first_pass.first_pass_record(first_pass.first_pass(document), document)

    def progress(fraction: float, step: str) -> None:
        if not args.json:
            print(f"{100 * fraction:5.1f}%  {step}", file=sys.stderr, flush=True)

    # A random-weight checkpoint is marked; `engine serve` names its model by that folder, so a URL engine is seen too.
    test_model = is_random_weight_checkpoint(getattr(engine, "model_id", ""))
    result = review(document, playbook, engine, progress=progress, first_pass=first, max_tokens=args.max_tokens,
                    test_model=test_model)
    if args.json:
        sys.stdout.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
    else:
        for finding in result.findings:
            mark = "present" if finding.present else "absent "
            print(f"{mark} {finding.risk:<6} {finding.title}: {finding.answer[:100]}")
            for quote in finding.quotes:
                where = f"p.{','.join(map(str, quote.pages))}" if quote.verified else "NOT FOUND in the document"
                print(f"        {where}: {quote.text[:100]!r}")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from analysis.evaluation import evaluate, labelled_contracts

    contracts = labelled_contracts(args.contracts, args.limit)
    if not contracts:
        print(f"no contracts: {args.contracts} holds no NAME.labels.json beside a NAME.PDF", file=sys.stderr)
        return EXIT_DOCUMENT_ERROR
    playbook = _playbook(args.playbook)
    engine = None if args.engine == "none" else _engine(args.engine, args.model, args.max_context, args.extra_body)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 (stdout holds only the table or the JSON)
    result = evaluate(contracts, engine, playbook, engine_label=args.engine, max_tokens=args.max_tokens, progress=say,
                      parallel=args.parallel)
    report = result.as_json()
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return EXIT_OK
    print(f"{report['model']} on {report['contracts']} contracts ({report['engine']}), CUAD's rule, white space and quotes folded")
    print(f"{'category':<40} {'who':<10} {'precision':>9} {'recall':>7} {'presence':>8} {'verified':>8}")
    rows = [("overall", report["overall"], report["first_pass"]["overall"])]
    rows += [(c, report["categories"][c], report["first_pass"]["categories"].get(c, {})) for c in report["categories"]]
    for name, model_scores, first_scores in rows:
        for who, scores in (("model", model_scores), ("first pass", first_scores)):
            cells = [_cell(scores.get(key)) for key in ("precision", "recall", "presence_accuracy")]
            verified = _cell(scores.get("verified_share")) if who == "model" else ""
            print(f"{name[:40]:<40} {who:<10} {cells[0]:>9} {cells[1]:>7} {cells[2]:>8} {verified:>8}")
    overall = report["overall"]
    print(f"repaired {_cell(overall['repaired_share'])}, failed {_cell(overall['failed_share'])}, "
          f"{overall['prompt_tokens']:,} prompt tokens and {overall['seconds_per_contract']} s per contract")
    return EXIT_OK


def _cell(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description="Quire's analysis from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    clauses = commands.add_parser("clauses", help="CUAD clause categories found by the first pass (no language model)")
    clauses.add_argument("path")
    clauses.add_argument("--password", help="password of an encrypted PDF (never printed)")
    clauses.add_argument("--min-score", type=float, default=0.01, help="leave out passages scored below this")
    clauses.add_argument("--json", action="store_true", help="print one JSON list of {category, start, end, page, score}")
    obligations = commands.add_parser("obligations", help="dated obligations (expiry, renewal, notice deadlines, "
                                                           "payment, delivery) with the passages they rest on")
    obligations.add_argument("path")
    obligations.add_argument("--password", help="password of an encrypted PDF (never printed)")
    shape = obligations.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true",
                       help="print one JSON list of {kind, date, start, end, page, text, derivation, passages}")
    shape.add_argument("--ics", action="store_true", help="print an RFC 5545 calendar, one all-day event each")
    run = commands.add_parser("run", help="a playbook review by a language model, every quote anchored to its pages")
    run.add_argument("path")
    run.add_argument("--playbook", default="contract", help="contract, report, or a playbook JSON file")
    run.add_argument("--engine", required=True, help="local:DIR_OR_ID, or the base URL of an OpenAI-compatible server")
    run.add_argument("--model", help="model name at a server (default: the first it lists)")
    run.add_argument("--password", help="password of an encrypted PDF (never printed)")
    run.add_argument("--max-tokens", type=int, default=8192,
                     help="longest reply (at most half the model's context is used, whatever this says)")
    run.add_argument("--max-context", type=int, default=None,
                     help="the server's context length, where GET /v1/models does not report it (llama.cpp's --n_ctx)")
    run.add_argument("--extra-body", type=_json_object, default=None, help=EXTRA_BODY_HELP)
    run.add_argument("--json", action="store_true", help="print the review as one JSON object")
    evaluate = commands.add_parser("evaluate", help="score a model's contract review against CUAD's expert labels")
    evaluate.add_argument("--engine", required=True,
                          help="local:DIR_OR_ID, the base URL of an OpenAI-compatible server, or none (the first pass alone)")
    evaluate.add_argument("--contracts", required=True, help="folder of NAME.PDF files beside NAME.labels.json")
    evaluate.add_argument("--limit", type=int, default=None, help="the first N contracts by name")
    evaluate.add_argument("--playbook", default="contract", help="contract, or a playbook JSON file with CUAD's categories")
    evaluate.add_argument("--model", help="model name at a server (default: the first it lists)")
    evaluate.add_argument("--max-tokens", type=int, default=8192, help="longest reply (at most half the context)")
    evaluate.add_argument("--max-context", type=int, default=None, help="the server's context length, where it does not say")
    evaluate.add_argument("--extra-body", type=_json_object, default=None, help=EXTRA_BODY_HELP)
    evaluate.add_argument("--parallel", type=int, default=1,
                          help="contracts reviewed at once (an engine that batches decodes them together)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        handlers = {"run": _run, "clauses": _clauses, "evaluate": _evaluate, "obligations": _obligations}
        return handlers[args.command](args)
    except QuireError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_DOCUMENT_ERROR
    except EngineError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
        print(f"unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())

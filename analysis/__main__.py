"""`python -m analysis COMMAND`: the analysis package's command line, thin wrappers over the functions the web
app calls. It never shows a traceback: a document error exits 2 with its code, anything else exits 1.

    python -m analysis clauses PATH [--password P] [--min-score S] --json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from analysis.errors import QuireError

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_DOCUMENT_ERROR = 2


def _clauses(args: argparse.Namespace) -> int:
    from analysis.first_pass.clause_model import default_model
    from analysis.ingest import ingest

    # The same call as `python -m analysis.ingest PATH --text`, so offsets index into exactly that text.
    document = ingest(args.path, password=args.password)
    hits = default_model().find(document.text, document.pages, minimum=args.min_score)
    rows = [{"category": h.category, "start": h.start, "end": h.end, "page": h.pages[0] if h.pages else None,
             "score": round(h.score, 6)} for h in sorted(hits, key=lambda h: (h.start, -h.score, h.category))]
    if args.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    else:
        for row in sorted(rows, key=lambda r: -r["score"]):
            passage = " ".join(document.text[row["start"]:row["end"]].split())
            print(f"{row['score']:.3f}  p.{row['page'] or '?':<4} {row['category']:<36} {passage[:90]}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description="Quire's analysis from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    clauses = commands.add_parser("clauses", help="CUAD clause categories found by the first pass (no language model)")
    clauses.add_argument("path")
    clauses.add_argument("--password", help="password of an encrypted PDF (never printed)")
    clauses.add_argument("--min-score", type=float, default=0.01, help="leave out passages scored below this")
    clauses.add_argument("--json", action="store_true", help="print one JSON list of {category, start, end, page, score}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        return _clauses(args)
    except QuireError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_DOCUMENT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
        print(f"unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())

"""Command-line look at what ingestion makes of one file: `python -m analysis.ingest PATH`.

It must never do more than call ingest() and print, never print or log the password, and never
show a traceback: a document error exits 2 with its code, anything else exits 1 in one line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from typing import Any

from analysis.errors import QuireError
from analysis.ingest import IngestedDocument, describe, ingest

_PREVIEW_CHARS = 500
# A rough rule for English prose with BPE tokenizers; only ever reported as an estimate.
_CHARS_PER_TOKEN = 4

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_DOCUMENT_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.ingest",
        description="Show what ingestion makes of one file.",
    )
    parser.add_argument("path", help="file to ingest")
    parser.add_argument("--password", help="password of an encrypted PDF (never printed)")
    parser.add_argument("--no-ocr", action="store_true", help="do not OCR image-only pages")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--text", action="store_true", help="print the extracted text (with --json: add it)"
    )
    args = parser.parse_args(argv)
    _quiet_logging()
    try:
        document = ingest(args.path, password=args.password, ocr=not args.no_ocr)
    except QuireError as exc:
        _fail(args, exc.code, exc.message)
        return EXIT_DOCUMENT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
        message = f"unexpected {type(exc).__name__}: {exc}"
        _fail(args, "unexpected", _redact(message, args.password))
        return EXIT_UNEXPECTED

    if args.json:
        summary = _summary(args.path, document)
        if args.text:
            summary["text"] = document.text
        _write(json.dumps(summary, ensure_ascii=False) + "\n")
    elif args.text:
        # Exactly the text, no newline added, so the output hashes to text_sha256.
        _write(document.text)
    else:
        _print_human(document)
    return EXIT_OK


def _summary(path: str, document: IngestedDocument | None) -> dict[str, Any]:
    """The JSON object; with no document every measured field is null or empty."""
    if document is None:
        return {
            "path": path,
            "kind": None,
            "pages": None,
            "chars": None,
            "tokens": None,
            "tokens_estimate": None,
            "page_starts": [],
            "text_sha256": None,
            "language": None,
            "title": None,
            "author": None,
            "warnings": [],
            "error": None,
        }
    chars = len(document.text)
    return {
        "path": path,
        "kind": document.kind,
        "pages": len(document.pages),
        "chars": chars,
        # No engine tokenizer is configured for ingestion yet, so the exact count is unknown;
        # tokens_estimate is the characters-per-token rule of thumb, rounded up.
        "tokens": None,
        "tokens_estimate": -(-chars // _CHARS_PER_TOKEN),
        "page_starts": [page.start for page in document.pages],
        "text_sha256": hashlib.sha256(document.text.encode("utf-8")).hexdigest(),
        "language": document.metadata.language,
        "title": document.metadata.title,
        "author": document.metadata.author,
        "warnings": list(document.warnings),
        "error": None,
    }


def _fail(args: argparse.Namespace, code: str, message: str) -> None:
    if args.json:
        summary = _summary(args.path, None)
        summary["error"] = {"code": code, "message": message}
        _write(json.dumps(summary, ensure_ascii=False) + "\n")
    else:
        print(f"error ({code}): {message}", file=sys.stderr)


def _print_human(document: IngestedDocument) -> None:
    estimated = " (estimated)" if any(page.estimated for page in document.pages) else ""
    lines = [
        f"kind: {document.kind} ({describe(document.kind)})",
        f"pages: {len(document.pages)}{estimated}",
        f"words: {document.word_count}",
        f"characters: {len(document.text)}",
        f"language: {document.metadata.language or 'unknown'}",
    ]
    if document.metadata.title:
        lines.append(f"title: {document.metadata.title}")
    if document.metadata.author:
        lines.append(f"author: {document.metadata.author}")
    lines += [f"warning: {warning}" for warning in document.warnings]
    lines += ["---", document.text[:_PREVIEW_CHARS]]
    _write("\n".join(lines) + "\n")


def _write(text: str) -> None:
    # UTF-8 whatever the locale says: a C locale would otherwise fail on the first "é".
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def _redact(message: str, password: str | None) -> str:
    return message.replace(password, "***") if password else message


class _OneLineFormatter(logging.Formatter):
    """Log records as one line each: readers log tracebacks for developers, not for here."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}".splitlines()[0]


def _quiet_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())

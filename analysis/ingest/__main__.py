"""Command-line look at what ingestion makes of one file: `python -m analysis.ingest PATH`.

It must never do more than call ingest() and print; it is a debugging aid, not an interface.
"""

from __future__ import annotations

import argparse
import sys

from analysis.errors import QuireError
from analysis.ingest import describe, ingest

_PREVIEW_CHARS = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.ingest", description=__doc__)
    parser.add_argument("path", help="file to ingest")
    args = parser.parse_args(argv)
    try:
        document = ingest(args.path)
    except QuireError as exc:
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    print(f"kind: {document.kind} ({describe(document.kind)})")
    print(f"pages: {len(document.pages)}")
    print(f"words: {document.word_count}")
    for warning in document.warnings:
        print(f"warning: {warning}")
    print("---")
    print(document.text[:_PREVIEW_CHARS])
    return 0


if __name__ == "__main__":
    sys.exit(main())

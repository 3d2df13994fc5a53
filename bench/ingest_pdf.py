"""Benchmark: PDF ingestion speed against pdftotext, peak memory, and time per page vs length.

Run alone from the project root: `.venv/bin/python bench/ingest_pdf.py [--rounds N] [--no-append]`.
It prints a table and appends it to bench/RESULTS.md (with the command, date and machine).
It reads the shared corpus in place and builds its long test PDFs in a temporary directory,
never in the repository.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
RESULTS = REPO / "bench" / "RESULTS.md"
sys.path.insert(0, str(REPO))

from analysis.errors import QuireError  # noqa: E402
from analysis.ingest import pdf  # noqa: E402

PEER = "pdftotext (poppler-utils), plain `pdftotext FILE -`, one process per file"
LENGTHS = (500, 1000, 2000, 3000)

# A child measures its own peak resident set: ru_maxrss of RUSAGE_SELF, in KiB on Linux.
_CHILD = """
import resource, sys, time
sys.path.insert(0, {repo!r})
from analysis.ingest import pdf
started = time.perf_counter()
document = pdf.read({path!r}, ocr=False)
elapsed = time.perf_counter() - started
print(len(document.pages), elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
_BASELINE = """
import resource, sys
sys.path.insert(0, {repo!r})
from analysis.ingest import pdf
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def corpus_files() -> list[Path]:
    files = sorted(
        p for p in (CORPUS / "contracts_cuad").iterdir() if p.suffix.lower() == ".pdf"
    )
    files += sorted((CORPUS / "pdfs").glob("*.pdf"))
    files += sorted((CORPUS / "long").glob("*.pdf"))
    return files


def readable(files: list[Path]) -> list[tuple[Path, int]]:
    """The files our reader opens, with their page counts (files that fail are left out of
    both sides, so both read the same pages)."""
    kept = []
    for path in files:
        try:
            document = pdf.read(path, ocr=False)
        except QuireError:
            continue
        kept.append((path, len(document.pages)))
    return kept


def time_ours(files: list[tuple[Path, int]]) -> float:
    started = time.perf_counter()
    for path, _ in files:
        pdf.read(path, ocr=False)
    return time.perf_counter() - started


def time_peer(files: list[tuple[Path, int]]) -> float:
    started = time.perf_counter()
    for path, _ in files:
        subprocess.run(
            ["pdftotext", str(path), "-"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    return time.perf_counter() - started


def child(path: Path) -> tuple[int, float, int]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(repo=str(REPO), path=str(path))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def baseline_rss_kib() -> int:
    out = subprocess.run(
        [sys.executable, "-c", _BASELINE.format(repo=str(REPO))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.split()[0])


def build_long_pdfs(directory: Path, sources: list[Path]) -> dict[int, Path]:
    """PDFs of exactly LENGTHS pages, made by concatenating corpus PDFs with pypdf."""
    from pypdf import PdfReader, PdfWriter

    readers = [PdfReader(path) for path in sources]
    built: dict[int, Path] = {}
    for length in LENGTHS:
        writer = PdfWriter()
        count = 0
        while count < length:
            for reader in readers:
                for page in reader.pages:
                    if count == length:
                        break
                    writer.add_page(page)
                    count += 1
        target = directory / f"concat-{length}.pdf"
        with target.open("wb") as handle:
            writer.write(handle)
        built[length] = target
    return built


def machine() -> str:
    def run(*command: str) -> str:
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            return (result.stdout + result.stderr).strip()
        except OSError:
            return "?"

    import pypdfium2

    pdftotext_version = run("pdftotext", "-v").splitlines()[0]
    memory = run("free", "-g").splitlines()[1].split()[1]
    return (
        f"{run('nproc')} cores (`nproc`), {memory} GiB RAM (`free -g`), "
        f"Python {platform.python_version()}, pypdfium2 {pypdfium2.PYPDFIUM_INFO} "
        f"(PDFium {pypdfium2.PDFIUM_INFO}), {pdftotext_version}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()

    files = readable(corpus_files())
    pages = sum(count for _, count in files)
    ours, peer = [], []
    # Alternating rounds share whatever the machine is doing; the median is reported.
    for _ in range(args.rounds):
        ours.append(time_ours(files))
        peer.append(time_peer(files))
    ours_s, peer_s = statistics.median(ours), statistics.median(peer)
    speed_rows = [
        ("analysis.ingest.pdf.read (ocr=False)", pages, ours_s, pages / ours_s),
        ("pdftotext FILE -", pages, peer_s, pages / peer_s),
    ]
    ratio = (pages / ours_s) / (pages / peer_s)

    baseline = baseline_rss_kib()
    memory_rows = []
    freeculture = CORPUS / "long" / "freeculture.pdf"
    count, elapsed, rss = child(freeculture)
    memory_rows.append(("long/freeculture.pdf", count, elapsed, rss))
    contracts = sorted(
        p
        for p in (CORPUS / "contracts_cuad").iterdir()
        if p.suffix.lower() == ".pdf" and not p.name.startswith("DERIVED")
    )
    with tempfile.TemporaryDirectory(prefix="quire-bench-") as directory:
        started = time.perf_counter()
        built = build_long_pdfs(Path(directory), contracts)
        build_s = time.perf_counter() - started
        for length in LENGTHS:
            count, elapsed, rss = child(built[length])
            memory_rows.append((f"{length}-page concatenation of CUAD contracts", count, elapsed, rss))

    lines = [
        f"Corpus: {len(files)} PDFs that open (contracts_cuad/*.pdf|PDF, pdfs/*.pdf, long/*.pdf), "
        f"{pages} pages; median of {args.rounds} alternating rounds.",
        "",
        "| reader | pages | seconds | pages/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {name} | {n} | {s:.2f} | {n / s:.1f} |" for name, n, s, _ in speed_rows]
    lines += [
        "",
        f"Ratio ours/pdftotext: **{ratio:.2f}x** (goal >= 1.0x).",
        "",
        f"Peak RSS of a child process that only imports the reader: {baseline / 1024:.0f} MiB.",
        f"Long PDFs built with pypdf in a temporary directory in {build_s:.0f} s.",
        "",
        "| document | pages | seconds | ms/page | peak RSS (MiB) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {name} | {n} | {s:.2f} | {1000 * s / n:.2f} | {rss / 1024:.0f} |"
        for name, n, s, rss in memory_rows
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_append:
        append(table)


def append(table: str) -> None:
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    command = ".venv/bin/python bench/ingest_pdf.py"
    section = (
        f"\n## PDF ingestion (bench/ingest_pdf.py), {date}\n\n"
        f"Command: `{command}`  \nMachine: {machine()}  \nPeer: {PEER}\n\n{table}\n"
    )
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nEach figure with the command that reproduces it, "
            "its date, machine and peer.\n",
            encoding="utf-8",
        )
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(section)


if __name__ == "__main__":
    main()

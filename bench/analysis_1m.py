"""A bundle of about a million tokens, made of corpus contracts, through Quire's stored pipeline on the local
DeepSeek-V4 engine (the random-weight V4 of bench/engine_v4.py), to an analysis in the database.

The same service functions the Celery tasks call, in this one process so its peak RSS covers everything:
ingestion (document_ingest), the report step with the first pass (report_generate, which queues the
automatic analysis), and the model's review (analysis_run), which prefills the whole bundle in one context.
Its own PostgreSQL database (created, migrated and dropped here) and media folder. The workspace's playbook
is one question, so a random model's reply stays short; the document is the whole bundle either way.
Measures and never asserts; downloads nothing.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/analysis_1m.py                   # about 30 minutes on 2 cores
    HF_HUB_OFFLINE=1 .venv/bin/python bench/analysis_1m.py --tokens 65536    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "cuad_train"
DATABASE = "quire_bench_analysis_1m"
CONTEXT = 1_048_576
MAX_TOKENS = 4096
ONE_QUESTION = {"title": "One question", "kind": "custom", "instructions": "Answer from the document alone.",
                "items": [{"key": "law", "title": "Governing law", "question": "Which law governs each agreement?"}]}


def bundle(path: Path, tokenizer, target: int) -> tuple[int, int]:
    """Concatenate corpus contracts (sorted by name) while they fit in `target` tokens; (tokens, files)."""
    pieces, tokens, files = [], 0, 0
    for source in sorted(CORPUS.glob("*.txt")):
        text = source.read_text(encoding="utf-8", errors="replace")
        piece = f"\n\n===== {source.stem} =====\n\n{text}"
        size = len(tokenizer(piece, add_special_tokens=False)["input_ids"])
        if tokens + size > target:
            continue  # too big for what is left; a smaller one may fit
        pieces.append(piece)
        tokens, files = tokens + size, files + 1
    path.write_text("".join(pieces), encoding="utf-8")
    return tokens, files


def _fresh_database(url_root: str) -> None:
    import psycopg

    with psycopg.connect(f"{url_root}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def _drop_database(url_root: str) -> None:
    import psycopg

    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{url_root}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=CONTEXT - MAX_TOKENS - 8192,
                        help="bundle size in the model's tokens (default: what fits a 1,048,576 context with the prompt)")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from bench.engine_v4 import model_dir

    model = model_dir()
    work = Path(tempfile.mkdtemp(prefix="quire-bench-1m-"))
    bundle_path = work / "bundle.txt"
    bundle_tokens, files = bundle(bundle_path, AutoTokenizer.from_pretrained(model), args.tokens)
    _fresh_database(args.postgres)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "webapp.settings", "DATABASE_URL": f"{args.postgres}/{DATABASE}",
        "QUIRE_MEDIA_ROOT": str(work / "media"), "QUIRE_ENGINE": "local", "QUIRE_ENGINE_MODEL": str(model),
        "QUIRE_ENGINE_DEVICE": "cpu", "QUIRE_ENGINE_PREFIX_CACHE_DIR": str(work / "prefix"),
        "QUIRE_ANALYSIS_MAX_TOKENS": str(MAX_TOKENS), "HF_HUB_OFFLINE": "1",
    })
    import django

    django.setup()
    from django.core.management import call_command

    from tests import factories
    from webapp.documents.models import Document
    from webapp.pipeline.ingest import document_ingest
    from webapp.reports import playbooks
    from webapp.pipeline.analyses import analysis_run
    from webapp.reports.models import Analysis
    from webapp.pipeline.reading import report_generate

    try:
        call_command("migrate", verbosity=0)
        owner = factories.make_user("bench")
        workspace = factories.make_workspace(owner, name="1M bench")
        for name in ("contract", "report"):
            playbooks.playbook_save(workspace=workspace, user=owner, name=name, definition_json=json.dumps(ONE_QUESTION))
        document = factories.make_document_from_file(workspace, bundle_path, "text")
        timings = {}
        started = time.perf_counter()
        document_ingest(document_id=document.id)
        timings["ingest_s"] = time.perf_counter() - started
        mark = time.perf_counter()
        report_generate(document_id=document.id)  # facts, token count, first pass; queues the automatic analysis
        timings["report_and_first_pass_s"] = time.perf_counter() - mark
        run = Analysis.objects.get(document=document)
        mark = time.perf_counter()
        analysis_run(analysis_id=run.id)
        timings["analysis_s"] = time.perf_counter() - mark
        timings["total_s"] = time.perf_counter() - started
        run.refresh_from_db()
        document.refresh_from_db()
        figures = {
            "bundle_tokens": bundle_tokens, "bundle_files": files, "bundle_chars": len(Document.objects.get(pk=document.pk).text),
            "pages": document.page_count, "document_status": document.status, "analysis_status": run.status,
            "analysis_error": run.error_message, "windows": run.windows, "prompt_tokens": run.prompt_tokens,
            "generated_tokens": run.generated_tokens, "cached_prompt_tokens": run.cached_prompt_tokens,
            "prefill_s": round(run.prefill_seconds, 1), "decode_s": round(run.decode_seconds, 1), "repaired": run.repaired,
            "findings": run.findings.count(), "anchors_verified": sum(a.verified for f in run.findings.all() for a in f.anchors.all()),
            **{k: round(v, 1) for k, v in timings.items()},
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        }
    finally:
        _drop_database(args.postgres)
    print(json.dumps(figures, indent=2))
    if args.write:
        _write(figures, args)


def _write(f: dict, args) -> None:
    now = datetime.now(timezone.utc).strftime("%a %b %d %H:%M UTC %Y")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, CPU only"
    lines = [
        "", f"## A million-token bundle through the stored pipeline on the local V4 engine (bench/analysis_1m.py), {now}", "",
        f"Command: `HF_HUB_OFFLINE=1 .venv/bin/python bench/analysis_1m.py{' --tokens ' + str(args.tokens) if args.tokens != CONTEXT - MAX_TOKENS - 8192 else ''} --write`"
        f" (nothing else ran)  ",
        f"Machine: {machine}. Model: the random-weight V4 of bench/engine_v4.py (4 layers, hidden 128); its output is meaningless.  ",
        f"Bundle: {f['bundle_files']} CUAD training contracts concatenated, {f['bundle_tokens']:,} tokens, {f['bundle_chars']:,} "
        f"characters, {f['pages']} pages (estimated). One process ran ingestion, the report step (facts, token count, "
        "first pass) and the automatic analysis, as the Celery tasks call them, against PostgreSQL.", "",
        "| step | seconds |", "| --- | --- |",
        f"| ingestion | {f['ingest_s']} |", f"| report and first pass | {f['report_and_first_pass_s']} |",
        f"| analysis (engine: prefill {f['prefill_s']} s, decode {f['decode_s']} s) | {f['analysis_s']} |",
        f"| **total** | **{f['total_s']}** |", "",
        f"Analysis: {f['analysis_status']}{' (' + f['analysis_error'] + ')' if f['analysis_error'] else ''}, {f['windows']} "
        f"window(s), {f['prompt_tokens']:,} prompt tokens ({f['cached_prompt_tokens']:,} from the engine's cache), "
        f"{f['generated_tokens']:,} generated{', repaired once' if f['repaired'] else ''}; {f['findings']} finding(s) stored. "
        f"Document: {f['document_status']}. **Peak RSS of the whole process: {f['peak_rss_gib']} GiB.**", "",
    ]
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()

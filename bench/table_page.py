"""The workspace table over 1,000 documents x the contract playbook's 41 items (plus 6 key-term columns), served by
gunicorn on loopback to 20 concurrent users, against /healthz on the same stack in the same run (the floor: one
Django request through every middleware); and an XLSX export of all 1,000 rows (the table sheet and every quote).

Half the documents have a ready contract review (41 findings each, one to two verified quotes per present finding),
half only a first pass (a cell per clause category and key term): what is measured is Quire filtering, sorting,
paging and drawing them, not a model. Users browse: each table request is a random mix of a sort (name or a cell),
a cell filter (contains / present / risk) and a keyset page reached by following `next`.
Own PostgreSQL database `quire_bench_table`; gunicorn with 2 processes x 4 threads, as bench/report_page.py; drawn
rows cached in Redis (emptied at the start), as a deployment with Redis has them.
Measures and never asserts.

    .venv/bin/python bench/table_page.py [--users 20] [--seconds 60] [--think 2] [--cache redis|locmem] [--write]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.live_stack import gunicorn_stack, signed_in_client  # noqa: E402
from bench.load_test import percentile  # noqa: E402
from bench.results_file import append_section  # noqa: E402

PASSWORD = "table bench password 42"
PORT = 8797
DOCUMENTS = 1000
CACHE_URL = "redis://127.0.0.1:6379/11"  # the deployment's shape: one Redis cache for every web process; emptied first


def env_for_stack(cache_url: str = CACHE_URL) -> dict:
    return dict(os.environ, DATABASE_URL="postgres://postgres@127.0.0.1:5432/quire_bench_table",
                CELERY_BROKER_URL="redis://127.0.0.1:6379/10", QUIRE_CACHE_URL=cache_url, QUIRE_HTTPS="false",
                QUIRE_MANIFEST_STATIC="false", QUIRE_ENGINE="none",
                QUIRE_VAR_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / "quire-table-bench"),
                LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="webapp.settings")


SETUP = r"""
import random, time
from django.contrib.auth import get_user_model
from webapp.accounts.services import account_email_confirm
from django.core.files.base import ContentFile
from analysis.first_pass.cells import PARTIES, TERM_KINDS, clause_column, term_column
from analysis.playbooks import load
from tests import factories
from webapp.documents.models import Document
from webapp.reports.models import Analysis, Anchor, Finding, FirstPassCell, Report
random.seed(0)
user = get_user_model().objects.create_user("reader", "reader@example.com", PASSWORD)
account_email_confirm(user=user)  # as if the reader had followed the emailed link
workspace = factories.make_workspace(user, name="Bench")
items = load("contract").items
laws = ["Delaware", "New York", "California", "England and Wales", "Texas", "Israel"]
risks = ["high", "medium", "low", "none"]
text = ("This Agreement is governed by the laws of the State of Delaware. " * 40)
documents = []
for n in range(DOCUMENTS):
    d = Document(workspace=workspace, uploaded_by=user, original_name=f"contract-{n:04d}.txt", size=len(text),
                 sha256=f"{n:064x}", kind="text", status="ready", text=text, page_count=3)
    d.file.save(f"bench-{n}", ContentFile(b"x"), save=False)
    documents.append(d)
Document.objects.bulk_create(documents, batch_size=500)
reports = Report.objects.bulk_create([Report(document=d, kind="contract", title="Contract: first pass", facts=[],
                                             first_pass={"format": 1}) for d in documents], batch_size=500)
cells, findings = [], []
analyses = []
for n, (d, r) in enumerate(zip(documents, reports)):
    if n % 2 == 0:
        analyses.append(Analysis(document=d, playbook={"name": "contract"}, playbook_name="contract",
                                 playbook_title="Contract review", playbook_version=1, engine="local", model_id="bench",
                                 status="ready", progress=100, windows=1))
        continue
    cells.append(FirstPassCell(report=r, column=PARTIES, value="Acme Corp; Widget Ltd", score=None, start=0, end=40, page=1))
    for item in items:
        cells.append(FirstPassCell(report=r, column=clause_column(item.title), value=f"{item.title}: " + text[:300],
                                   score=round(random.random(), 3), start=0, end=300, page=1 + n % 3))
    for kind in TERM_KINDS:
        cells.append(FirstPassCell(report=r, column=term_column(kind), value=random.choice(laws), score=None,
                                   start=0, end=20, page=1))
FirstPassCell.objects.bulk_create(cells, batch_size=2000)
Analysis.objects.bulk_create(analyses, batch_size=500)
for a in analyses:
    for p, item in enumerate(items):
        present = random.random() < 0.7
        findings.append(Finding(analysis=a, position=p, item=item.key, category=item.title, present=present,
                                answer=(f"Governed by the laws of {random.choice(laws)}." if item.key == "governing_law"
                                        else f"{item.title}: answer " + "x" * 60) if present else "",
                                risk=random.choice(risks) if present else "none"))
Finding.objects.bulk_create(findings, batch_size=2000)
anchors = [Anchor(finding=f, position=q, quote=text[:64], verified=True, start=0, end=64, pages=[1], exact=True, score=1.0)
           for f in findings if f.present for q in range(1 + f.position % 2)]
Anchor.objects.bulk_create(anchors, batch_size=5000)
print(workspace.id, len(findings), len(cells), len(anchors))
"""

EXPORT = r"""
import time
from django.contrib.auth import get_user_model
from webapp.reports.playbooks import playbook_for_workspace
from webapp.tables.columns import table_columns
from webapp.tables.exports import table_export
from webapp.tables.query import TableQuery
from webapp.workspaces.models import Workspace
user = get_user_model().objects.get(username="reader")
workspace = Workspace.objects.get(pk=WORKSPACE)
columns = table_columns(playbook_for_workspace(workspace=workspace, name="contract"))
times = []
for _ in range(3):
    started = time.perf_counter()
    exported = table_export(user=user, workspace=workspace, columns=columns, query=TableQuery(), fmt="xlsx",
                            base_url="http://127.0.0.1")
    times.append(time.perf_counter() - started)
print(min(times), max(times), exported.rows, len(exported.content))
"""


def prepare(env: dict) -> tuple[str, int, int, int]:
    subprocess.run(["redis-cli", "-u", CACHE_URL, "FLUSHDB"], check=True, capture_output=True)
    for sql in ("DROP DATABASE IF EXISTS quire_bench_table", "CREATE DATABASE quire_bench_table"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True, capture_output=True)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    script = f"PASSWORD={PASSWORD!r}\nDOCUMENTS={DOCUMENTS}\n" + SETUP
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[-4], int(out[-3]), int(out[-2]), int(out[-1])


def export_times(env: dict, workspace: str) -> tuple[float, float, int, int]:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", f"WORKSPACE={workspace!r}\n" + EXPORT], cwd=ROOT,
                         env=env, check=True, capture_output=True, text=True).stdout.split()
    return float(out[-4]), float(out[-3]), int(out[-2]), int(out[-1])


def table_url(rng: random.Random, workspace: str) -> str:
    """A reviewer's next look at the table: a sort, maybe a filter."""
    params = {}
    sort = rng.choice(["", "name", "governing_law", "change_of_control", "cap_on_liability"])
    if sort:
        params["sort"] = sort
    choice = rng.random()
    if choice < 0.3:
        params.update({"f0_col": "governing_law", "f0_op": "contains", "f0_val": rng.choice(["Delaware", "New York", "Texas"])})
    elif choice < 0.5:
        params.update({"f0_col": "change_of_control", "f0_op": "present"})
    elif choice < 0.65:
        params.update({"f0_col": "audit_rights", "f0_op": "risk", "f0_val": "high"})
    return f"/w/{workspace}/table/?" + "&".join(f"{k}={v}" for k, v in params.items())


def user_loop(workspace: str, samples: dict, errors: list, stop: threading.Event, lock: threading.Lock, think: float,
              seed: int, ready: threading.Barrier) -> None:
    rng = random.Random(seed)
    base = f"http://127.0.0.1:{PORT}"
    with signed_in_client(base, "reader", PASSWORD) as client:
        ready.wait()
        stop.wait(rng.uniform(0, think))
        turn, next_url = 0, ""
        while not stop.is_set():
            if turn % 2:
                kind, url = "healthz", "/healthz"
            else:
                kind, url = "table", next_url if next_url and rng.random() < 0.4 else table_url(rng, workspace)
            turn += 1
            started = time.perf_counter()
            try:
                response = client.get(url)
            except httpx.HTTPError as error:  # a reset connection is an error of the run, not the end of this user
                with lock:
                    errors.append(f"{url}: {type(error).__name__}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                samples.setdefault(kind, []).append(elapsed)
                if response.status_code != 200:
                    errors.append(f"{url}: HTTP {response.status_code}")
                if kind == "table":
                    samples.setdefault("bytes", []).append(len(response.content))
                    samples.setdefault("cells", []).append(response.text.count('<td class="cell'))
            if kind == "table":
                found = re.search(r'<a href="([^"]+)" rel="next">', response.text)
                next_url = (f"/w/{workspace}/table/" + found.group(1).replace("&amp;", "&")) if found else ""
            stop.wait(rng.uniform(think / 2, 3 * think / 2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=2.0)
    parser.add_argument("--cache", choices=("redis", "locmem"), default="redis",
                        help="where drawn rows are kept: Redis shared by the web processes (a deployment with Redis), "
                             "or each process's own memory (a deployment without)")
    parser.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()
    env = env_for_stack(CACHE_URL if args.cache == "redis" else "locmem://")
    workspace, findings, cells, anchors = prepare(env)
    export_min, export_max, export_rows, export_bytes = export_times(env, workspace)
    samples, errors, lock, stop = {}, [], threading.Lock(), threading.Event()
    with gunicorn_stack(env, PORT):
        ready = threading.Barrier(args.users + 1)
        threads = [threading.Thread(target=user_loop, args=(workspace, samples, errors, stop, lock, args.think, n, ready))
                   for n in range(args.users)]
        for thread in threads:
            thread.start()
        ready.wait()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
    table, floor = samples["table"], samples["healthz"]
    f = {"documents": DOCUMENTS, "findings": findings, "cells": cells, "anchors": anchors, "requests": len(table),
         "errors": len(errors), "p50_ms": 1000 * percentile(table, 50), "p95_ms": 1000 * percentile(table, 95),
         "healthz_p50_ms": 1000 * percentile(floor, 50), "healthz_p95_ms": 1000 * percentile(floor, 95),
         "page_kib": max(samples["bytes"]) / 1024, "cells_per_page": max(samples["cells"]),
         "export_min_s": export_min, "export_max_s": export_max, "export_rows": export_rows,
         "export_mib": export_bytes / (1 << 20)}
    for key, value in f.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")
    if errors:
        print("errors:", errors[:5])
    if args.write:
        _write(f, args)
    return 0


def _write(f: dict, args) -> None:
    table_ok = "met" if f["p95_ms"] < 500 else "**not met**"
    cache = "in Redis, shared by both processes (emptied first)" if args.cache == "redis" else "in each process's memory"
    export_ok = "met" if f["export_max_s"] < 30 else "**not met**"
    append_section(
        f"The workspace table over {f['documents']:,} documents under {args.users} users, cache {args.cache} "
        f"(bench/table_page.py)",
        setup=(f"gunicorn 2 processes x 4 threads, PostgreSQL and Redis on the same host, nothing else running; drawn rows "
               f"cached {cache}. Data made by the script: {f['documents']:,} documents, half with a contract review ({f['findings']:,} findings, "
               f"{f['anchors']:,} verified quotes), half with first-pass cells only ({f['cells']:,}); 47 columns. Each "
               f"user alternates a table page and /healthz (the floor: one request through every middleware), pausing "
               f"{args.think:g} s on average; a table page is a random sort (name or a cell), often a cell filter, "
               f"sometimes the next keyset page. {f['requests']} table pages, {f['errors']} errors. Table p95 "
               f"{f['p95_ms'] / f['healthz_p95_ms']:.1f}x that of /healthz; goal p95 under 500 ms: {table_ok}. XLSX "
               f"export of all {f['export_rows']:,} rows ({f['export_mib']:.1f} MiB, table and quotes sheets), in "
               f"process, best / worst of 3; goal under 30 s: {export_ok}."),
        header="| measure | p50 | p95 / worst |\n| --- | --- | --- |",
        rows=[f"| table page, 50 rows x 47 columns ({f['cells_per_page']:,} cells, {f['page_kib']:.0f} KiB) | "
              f"{f['p50_ms']:.0f} ms | **{f['p95_ms']:.0f} ms** |",
              f"| /healthz in the same run | {f['healthz_p50_ms']:.0f} ms | {f['healthz_p95_ms']:.0f} ms |",
              f"| XLSX export, {f['export_rows']:,} rows | {f['export_min_s']:.1f} s (best) | **{f['export_max_s']:.1f} s** |"],
    )

if __name__ == "__main__":
    sys.exit(main())

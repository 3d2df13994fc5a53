"""The report page of the 154-page CERES contract with 500 findings, served by gunicorn on loopback to 20
concurrent users: latency of the report page (server-side render, findings 50 a page, 12 document pages a
window, page images loaded lazily by the browser and so not part of the page) against /healthz on the same
stack in the same run (the floor: one Django request through every middleware), and the bytes of the page.

Three figures, because the page keeps its drawn parts in a cache (webapp/reports/page_cache.py): the whole page
drawn by one reader with the cache emptied before each request; 20 users reading the same report page; and 20
users browsing it (a random findings page and document window each time, so many parts are drawn afresh).

The 500 findings are made here (an analysis row whose findings each quote one to three real sentences of the
contract, anchored at their exact spans): what is measured is Quire rendering them, not a model.
Own PostgreSQL database `quire_bench_report`; gunicorn with 2 processes x 4 threads, as bench/load_test.py.
Measures and never asserts.

    .venv/bin/python bench/report_page.py [--users 20] [--seconds 60] [--think 2] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.live_stack import gunicorn_stack, signed_in_client  # noqa: E402
from bench.load_test import percentile  # noqa: E402

CERES = ROOT.parent / "shared" / "corpus" / "contracts_cuad" / "CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.PDF"
PASSWORD = "report bench password 42"
PORT = 8798
FINDINGS = 500
CACHE_URL = "redis://127.0.0.1:6379/11"
FINDINGS_PAGES = FINDINGS // 50  # the report shows 50 findings a page
WINDOWS = tuple(range(1, 155, 12))  # the document pane shows 12 pages at a time


def env_for_stack() -> dict:
    return dict(os.environ, DATABASE_URL="postgres://postgres@127.0.0.1:5432/quire_bench_report",
                CELERY_BROKER_URL="redis://127.0.0.1:6379/12", QUIRE_CACHE_URL=CACHE_URL, QUIRE_HTTPS="false", QUIRE_MANIFEST_STATIC="false",
                QUIRE_ENGINE="none", QUIRE_VAR_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / "quire-report-bench"),
                LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="webapp.settings")


SETUP = r"""
import random, re
from django.contrib.auth import get_user_model
from webapp.accounts.services import account_email_confirm
from tests import factories
from webapp.pipeline.ingest import document_ingest
from webapp.pipeline.reading import report_generate
from webapp.reports.models import Analysis, Finding, Anchor
from webapp.documents.models import Document, DocumentPage
from pathlib import Path
user = get_user_model().objects.create_user("reader", "reader@example.com", PASSWORD)
account_email_confirm(user=user)  # as if the reader had followed the emailed link
workspace = factories.make_workspace(user, name="Bench")
document = factories.make_document_from_file(workspace, Path(CERES), "pdf")
document_ingest(document_id=document.id)
report_generate(document_id=document.id)
document.refresh_from_db()
text = document.text
pages = list(DocumentPage.objects.filter(document=document).values_list("number", "start", "end"))
sentences = [m.span() for m in re.finditer(r"[A-Z][^.;]{40,300}[.;]", text)]
random.seed(0)
analysis = Analysis.objects.create(document=document, playbook={"name": "contract"}, playbook_name="contract",
    playbook_title="Contract review (CUAD)", playbook_version=1, engine="local", model_id="bench", status="ready",
    progress=100, windows=1, prompt_tokens=150000, generated_tokens=60000)
risks = ["high", "medium", "low", "none"]
anchors = []
for n in range(FINDINGS):
    f = Finding.objects.create(analysis=analysis, position=n, item=f"item_{n}", category=f"Category {n % 41:02d}",
                               present=n % 5 != 0, answer=f"Answer {n}: " + "x" * 80, risk=risks[n % 4],
                               risk_note="A note on the risk of this clause. " * 2)
    for q in range(1 + n % 3):
        start, end = random.choice(sentences)
        page = next(p for p, s, e in pages if s <= start < e or start < s)
        anchors.append(Anchor(finding=f, position=q, quote=text[start:end], verified=q < 2, start=start if q < 2 else None,
                              end=end if q < 2 else None, pages=[page] if q < 2 else [], exact=True, score=1.0))
Anchor.objects.bulk_create(anchors)
print(document.id, len(pages), len(anchors))
"""


def prepare(env: dict) -> tuple[str, int, int]:
    for sql in ("DROP DATABASE IF EXISTS quire_bench_report", "CREATE DATABASE quire_bench_report"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True, capture_output=True)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    script = f"PASSWORD={PASSWORD!r}\nCERES={str(CERES)!r}\nFINDINGS={FINDINGS}\n" + SETUP
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[-3], int(out[-2]), int(out[-1])


def user_loop(path: str, samples: dict, errors: list, stop: threading.Event, lock: threading.Lock,
              think: float = 0.0, seed: int = 0, ready: threading.Barrier | None = None, browse: bool = False) -> None:
    """One reader: the report page, then /healthz, in turn; between requests a pause of `think` seconds on average
    (uniform in [think/2, 3*think/2]), the time a reviewer spends reading before the next click. Every reader signs
    in before any starts reading (`ready`): twenty password hashes at once would otherwise be measured as the
    first report pages' latency. `browse`: each report request asks for a random findings page and document
    window (130 combinations), so many are drawn afresh rather than served from the page cache."""
    import random

    rng = random.Random(seed)
    with signed_in_client(f"http://127.0.0.1:{PORT}", "reader", PASSWORD, timeout=60) as client:
        if ready is not None:
            ready.wait()
            stop.wait(rng.uniform(0, think))  # readers arrive spread over one pause, not in lockstep
        turn = 0
        while not stop.is_set():
            url = path
            if browse:
                url = f"{path}?fpage={rng.randint(1, FINDINGS_PAGES)}&pages={rng.choice(WINDOWS)}"
            kind, url = ("report", url) if turn % 2 == 0 else ("healthz", "/healthz")
            turn += 1
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            with lock:
                samples.setdefault(kind, []).append(elapsed)
                if response.status_code != 200:
                    errors.append(f"{url}: HTTP {response.status_code}")
                if kind == "report":
                    samples.setdefault("bytes", []).append(len(response.content))
                    samples.setdefault("images", []).append(len(re.findall(r'<img loading="lazy"', response.text)))
            if think:
                stop.wait(rng.uniform(think / 2, 3 * think / 2))


def cold_renders(path: str, count: int = 15) -> list[float]:
    """One reader, nothing else running, the page cache emptied before every request: the cost of drawing the
    whole page, which is what the first reader of a report (or of a new filter) pays."""
    import redis

    cache = redis.Redis.from_url(CACHE_URL)
    times = []
    with signed_in_client(f"http://127.0.0.1:{PORT}", "reader", PASSWORD, timeout=60) as client:
        client.get(path)  # both processes' code and connections warm
        client.get(path)
        for _ in range(count):
            cache.flushdb()
            started = time.perf_counter()
            client.get(path).raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def load_run(path: str, args, browse: bool) -> tuple[dict, list]:
    samples, errors, lock, stop = {}, [], threading.Lock(), threading.Event()
    ready = threading.Barrier(args.users + 1)
    threads = [threading.Thread(target=user_loop, args=(path, samples, errors, stop, lock, args.think, n, ready, browse))
               for n in range(args.users)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return samples, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between a user's requests (0: none)")
    parser.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()
    env = env_for_stack()
    document_id, pages, anchors = prepare(env)
    with gunicorn_stack(env, PORT):
        path = f"/d/{document_id}/report/"
        cold = cold_renders(path)
        runs = {"same": load_run(path, args, browse=False), "browse": load_run(path, args, browse=True)}
    figures = {"users": args.users, "seconds": args.seconds, "think": args.think, "pages": pages, "findings": FINDINGS,
               "anchors": anchors, "cold_p50_ms": 1000 * percentile(cold, 50), "cold_max_ms": 1000 * max(cold)}
    for name, (samples, errors) in runs.items():
        report, floor = samples["report"], samples["healthz"]
        figures.update({
            f"{name}_requests": len(report), f"{name}_p50_ms": 1000 * percentile(report, 50),
            f"{name}_p95_ms": 1000 * percentile(report, 95), f"{name}_healthz_p50_ms": 1000 * percentile(floor, 50),
            f"{name}_healthz_p95_ms": 1000 * percentile(floor, 95), f"{name}_errors": len(errors),
            f"{name}_page_kib": max(samples["bytes"]) / 1024, f"{name}_lazy_images": max(samples["images"]),
        })
    for key, value in figures.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")
    if args.write:
        _write(figures, args)
    return 0


def _write(f: dict, args) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    now = datetime.now(timezone.utc).strftime("%a %b %d %H:%M UTC %Y")
    met = f["same_p95_ms"] < 300 and f["browse_p95_ms"] < 300
    lines = [
        "", f"## The report page with 500 findings under {f['users']} users (bench/report_page.py), {now}", "",
        f"Command: `.venv/bin/python bench/report_page.py --users {args.users} --seconds {args.seconds:g} --think {args.think:g} --write`"
        " (nothing else ran)  ",
        f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; gunicorn 2 processes x 4 threads, "
        "PostgreSQL and Redis (also the page cache) on the same host.  ",
        f"Document: the CERES collaboration agreement, {f['pages']} pages, with an analysis of {f['findings']} findings "
        f"and {f['anchors']} quotes (made by the script, anchored at real sentences). Each user signs in, then "
        f"alternates the report page and /healthz, pausing {f['think']:g} s on average between requests; users start "
        f"spread over one pause. Each load run lasts {f['seconds']:g} s.", "",
        "| request | p50 ms | p95 ms |", "| --- | --- | --- |",
        f"| one reader, page cache emptied before each request (the whole page drawn) | {f['cold_p50_ms']:.0f} | max {f['cold_max_ms']:.0f} |",
        f"| {f['users']} users, the report page (50 findings shown, 12 document pages) | {f['same_p50_ms']:.0f} | **{f['same_p95_ms']:.0f}** |",
        f"| /healthz in the same run (the floor) | {f['same_healthz_p50_ms']:.0f} | {f['same_healthz_p95_ms']:.0f} |",
        f"| {f['users']} users browsing: random findings page (1-{FINDINGS_PAGES}) and document window (1 of {len(WINDOWS)}) | {f['browse_p50_ms']:.0f} | **{f['browse_p95_ms']:.0f}** |",
        f"| /healthz in the same run (the floor) | {f['browse_healthz_p50_ms']:.0f} | {f['browse_healthz_p95_ms']:.0f} |", "",
        f"{f['same_requests']} + {f['browse_requests']} report pages served, {f['same_errors'] + f['browse_errors']} errors; "
        f"the page is {f['same_page_kib']:.0f} KiB of HTML with {f['same_lazy_images']} page images, all `loading=\"lazy\"`. "
        f"p95 of the report page: {f['same_p95_ms'] / f['same_healthz_p95_ms']:.1f}x that of /healthz (same page), "
        f"{f['browse_p95_ms'] / f['browse_healthz_p95_ms']:.1f}x (browsing). Goal (p95 under 300 ms): "
        + ("met." if met else "**not met**."), "",
    ]
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

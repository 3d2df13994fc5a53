"""The report page of the 154-page CERES contract with 500 findings, served by gunicorn on loopback to 20
concurrent users: latency of the report page (server-side render, findings 50 a page, 12 document pages a
window, page images loaded lazily by the browser and so not part of the page) against /healthz on the same
stack in the same run (the floor: one Django request through every middleware), and the bytes of the page.

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

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.load_test import percentile  # noqa: E402

CERES = ROOT.parent / "shared" / "corpus" / "contracts_cuad" / "CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.PDF"
PASSWORD = "report bench password 42"
PORT = 8798
FINDINGS = 500


def env_for_stack() -> dict:
    return dict(os.environ, DATABASE_URL="postgres://postgres@127.0.0.1:5432/quire_bench_report",
                CELERY_BROKER_URL="redis://127.0.0.1:6379/12", QUIRE_HTTPS="false", QUIRE_MANIFEST_STATIC="false",
                QUIRE_ENGINE="none", QUIRE_VAR_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / "quire-report-bench"),
                LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="webapp.settings")


SETUP = r"""
import random, re
from django.contrib.auth import get_user_model
from tests import factories
from webapp.documents.services import document_ingest
from webapp.reports.services import report_generate
from webapp.reports.models import Analysis, Finding, Anchor
from webapp.documents.models import Document, DocumentPage
from pathlib import Path
user = get_user_model().objects.create_user("reader", "reader@example.com", PASSWORD)
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
              think: float = 0.0, seed: int = 0) -> None:
    """One reader: the report page, then /healthz, in turn; between requests a pause of `think` seconds on average
    (uniform in [think/2, 3*think/2]), the time a reviewer spends reading before the next click."""
    import random

    pause = random.Random(seed)
    base = f"http://127.0.0.1:{PORT}"
    with httpx.Client(base_url=base, timeout=60) as client:
        client.get("/accounts/login/")
        client.post("/accounts/login/", data={"username": "reader", "password": PASSWORD,
                                              "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                    headers={"Referer": f"{base}/accounts/login/"})
        turn = 0
        while not stop.is_set():
            kind, url = ("report", path) if turn % 2 == 0 else ("healthz", "/healthz")
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
                stop.wait(pause.uniform(think / 2, 3 * think / 2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between a user's requests (0: none)")
    parser.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()
    env = env_for_stack()
    document_id, pages, anchors = prepare(env)
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "webapp.wsgi", "--bind", f"127.0.0.1:{PORT}",
                            "--workers", "2", "--threads", "4", "--timeout", "120"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        path = f"/d/{document_id}/report/"
        samples, errors, lock, stop = {}, [], threading.Lock(), threading.Event()
        warm = {}
        user_loop_once = threading.Thread(target=user_loop, args=(path, warm, [], stop, lock))
        user_loop_once.start()
        time.sleep(3)  # warm both processes' caches before measuring
        stop.set()
        user_loop_once.join()
        stop = threading.Event()
        threads = [threading.Thread(target=user_loop, args=(path, samples, errors, stop, lock, args.think, n))
                   for n in range(args.users)]
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        web.terminate()
        web.wait(timeout=30)
    report, floor = samples["report"], samples["healthz"]
    figures = {
        "users": args.users, "seconds": args.seconds, "think": args.think, "pages": pages, "findings": FINDINGS, "anchors": anchors,
        "report_requests": len(report), "report_p50_ms": 1000 * percentile(report, 50),
        "report_p95_ms": 1000 * percentile(report, 95), "healthz_p50_ms": 1000 * percentile(floor, 50),
        "healthz_p95_ms": 1000 * percentile(floor, 95), "page_kib": max(samples["bytes"]) / 1024,
        "lazy_images": max(samples["images"]), "errors": len(errors),
    }
    figures["p95_ratio_to_healthz"] = figures["report_p95_ms"] / figures["healthz_p95_ms"]
    for key, value in figures.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")
    if args.write:
        _write(figures, args)
    return 0


def _write(f: dict, args) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    now = datetime.now(timezone.utc).strftime("%a %b %d %H:%M UTC %Y")
    lines = [
        "", f"## The report page with 500 findings under {f['users']} users (bench/report_page.py), {now}", "",
        f"Command: `.venv/bin/python bench/report_page.py --users {args.users} --seconds {args.seconds:g} --think {args.think:g} --write`"
        " (nothing else ran)  ",
        f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; gunicorn 2 processes x 4 threads, "
        "PostgreSQL and Redis on the same host.  ",
        f"Document: the CERES collaboration agreement, {f['pages']} pages, with an analysis of {f['findings']} findings "
        f"and {f['anchors']} quotes (made by the script, anchored at real sentences). Each user alternates the report "
        f"page and /healthz, pausing {f['think']:g} s on average between requests"
        + (" (none: every user clicks again at once, the saturating case)" if not f["think"] else "") + ".", "",
        "| request | p50 ms | p95 ms |", "| --- | --- | --- |",
        f"| report page (50 findings shown, 12 document pages) | {f['report_p50_ms']:.0f} | **{f['report_p95_ms']:.0f}** |",
        f"| /healthz on the same stack (the floor) | {f['healthz_p50_ms']:.0f} | {f['healthz_p95_ms']:.0f} |", "",
        f"{f['report_requests']} report pages served, {f['errors']} errors; the page is {f['page_kib']:.0f} KiB of HTML "
        f"with {f['lazy_images']} page images, all `loading=\"lazy\"`. p95 of the report page: "
        f"{f['p95_ratio_to_healthz']:.1f}x that of /healthz (goal: under 300 ms).", "",
    ]
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

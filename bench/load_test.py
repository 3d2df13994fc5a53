"""A team's load on loopback: 20 simulated users upload 200 documents from the shared corpus and keep
opening their workspace, document and report pages while the workers ingest and analyse.

Starts its own stack (gunicorn with 2 processes x 4 threads, one Celery worker with 2 processes for both
queues, PostgreSQL database `quire_bench`, Redis database 13), measures, stops it. Runnable alone; it
measures and never asserts. Goal (issue "Operations"): zero errors and page p95 under 500 ms while the
workers are busy.

    .venv/bin/python bench/load_test.py [--users 20] [--documents 200]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PASSWORD = "load-test password 42"
PORT = 8799


def corpus_files(count: int) -> list[Path]:
    pdfs = sorted((CORPUS / "contracts_cuad").glob("*.[pP][dD][fF]"))
    texts = sorted((CORPUS / "cuad_train").glob("*.txt"))
    files = (pdfs + texts)[:count]
    if len(files) < count:
        raise SystemExit(f"the corpus holds only {len(files)} usable files")
    return files


def env_for_stack() -> dict:
    return dict(
        os.environ,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/quire_bench",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/13",
        QUIRE_HTTPS="false",
        QUIRE_MANIFEST_STATIC="false",
        QUIRE_ENGINE="none",
        QUIRE_VAR_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / "quire-load-test"),
        QUIRE_UPLOADS_PER_HOUR="1000",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="webapp.settings",
    )


def prepare(env: dict, users: int) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "DROP DATABASE IF EXISTS quire_bench"], check=True,
                   capture_output=True)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE quire_bench"], check=True,
                   capture_output=True)
    subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=True, capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from webapp.accounts.services import account_email_confirm\n"
        "from webapp.workspaces.services import workspace_create\n"
        f"for i in range({users}):\n"
        f"    u = get_user_model().objects.create_user(f'user{{i}}', f'user{{i}}@example.com', {PASSWORD!r})\n"
        "    account_email_confirm(user=u)\n"
        "    workspace_create(user=u, name=f'Team {i}')\n"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True)


def start_stack(env: dict) -> dict[str, subprocess.Popen]:
    python = sys.executable
    procs = {
        "web": subprocess.Popen([python, "-m", "gunicorn", "webapp.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2",
                                 "--threads", "4", "--timeout", "300"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        "worker": subprocess.Popen([python, "-m", "celery", "-A", "webapp", "worker", "-Q", "default,engine",
                                    "--concurrency", "2", "--loglevel", "WARNING"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).status_code == 200:
                return procs
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("the web server did not start")


def tree(pid: int) -> list[int]:
    found = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) in found:
            found.append(int(stat.parent.name))
    return found


def rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) * 1024
        except (OSError, AttributeError):
            pass
    return total


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}
        self.errors: list[str] = []

    def timed(self, kind: str, client: httpx.Client, method: str, url: str, ok=(200, 302), **kwargs) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            with self.lock:
                self.errors.append(f"{kind} {url}: {type(error).__name__}")
            raise
        elapsed = time.perf_counter() - started
        with self.lock:
            self.samples.setdefault(kind, []).append(elapsed)
            if response.status_code not in ok:
                self.errors.append(f"{kind} {url}: HTTP {response.status_code}")
        return response


def simulated_user(index: int, files: list[Path], recorder: Recorder, done: dict) -> None:
    base = f"http://127.0.0.1:{PORT}"
    with httpx.Client(base_url=base, timeout=120, follow_redirects=False) as client:
        client.get("/accounts/login/")
        recorder.timed("login", client, "POST", "/accounts/login/", data={
            "login": f"user{index}", "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"})
        home = recorder.timed("page", client, "GET", "/")
        workspace = re.search(r'href="/w/([0-9a-f-]{36})/"', home.text).group(1)
        csrf = {"X-CSRFToken": client.cookies["csrftoken"], "Referer": f"{base}/w/{workspace}/",
                "Accept": "application/json"}
        documents = []
        for path in files:
            with path.open("rb") as handle:
                response = recorder.timed("upload", client, "POST", f"/w/{workspace}/upload/", ok=(200,),
                                          files={"files": (path.name, handle)}, headers=csrf)
            result = response.json()["results"][0]
            if result.get("url"):
                documents.append(result["url"])
            recorder.timed("page", client, "GET", f"/w/{workspace}/")
            recorder.timed("poll", client, "GET", f"/w/{workspace}/status.json")
        # Keep reading while the workers drain the queue, as a reviewer waiting for reports would.
        pending = set(documents)
        while pending:
            for url in sorted(pending):
                status = recorder.timed("poll", client, "GET", url + "status.json").json()
                if status["terminal"]:
                    pending.discard(url)
                    recorder.timed("page", client, "GET", url)
                    if status["status"] == "ready":
                        recorder.timed("page", client, "GET", url + "report/")
            recorder.timed("page", client, "GET", f"/w/{workspace}/")
            time.sleep(1.0)
        with recorder.lock:
            done[index] = time.perf_counter()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--documents", type=int, default=200)
    args = parser.parse_args()

    env = env_for_stack()
    files = corpus_files(args.documents)
    prepare(env, args.users)
    procs = start_stack(env)
    peaks = {"web": 0, "worker": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for name, proc in procs.items():
                peaks[name] = max(peaks[name], rss(tree(proc.pid)))
            stop.wait(0.5)

    threading.Thread(target=sample, daemon=True).start()
    recorder, done = Recorder(), {}
    share = [files[i::args.users] for i in range(args.users)]
    started = time.perf_counter()
    threads = [threading.Thread(target=simulated_user, args=(i, share[i], recorder, done)) for i in range(args.users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drained = time.perf_counter() - started
    stop.set()
    for proc in procs.values():
        proc.terminate()
    for proc in procs.values():
        proc.wait(timeout=60)

    total = sum(len(v) for v in recorder.samples.values())
    print(f"\n{args.users} users, {len(files)} documents ({sum(f.suffix.lower() == '.pdf' for f in files)} PDFs), "
          f"{os.cpu_count()} CPUs; all documents terminal after {drained:.0f} s")
    print(f"requests: {total} in {drained:.0f} s = {total / drained:.1f}/s; errors: {len(recorder.errors)}")
    print("| kind | requests | p50 ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind, values in sorted(recorder.samples.items()):
        print(f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.0f} | {percentile(values, 95) * 1000:.0f} | "
              f"{max(values) * 1000:.0f} |")
    print(f"peak RSS: web (gunicorn, 3 processes) {peaks['web'] / 2**20:.0f} MiB, "
          f"worker (celery, 3 processes) {peaks['worker'] / 2**20:.0f} MiB")
    for error in recorder.errors[:10]:
        print("  error:", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())

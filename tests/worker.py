"""A real Celery worker process, on Redis, writing to the same PostgreSQL test database.

Used by the integration and browser tests through the fixtures in tests/conftest.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

REPO = Path(__file__).resolve().parents[1]


def _test_database_url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + name))


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(*, database_name: str, log_path: Path, queues: str = "default,engine", pool: str = "prefork",
                 env: dict | None = None) -> WorkerProcess:
    environment = dict(os.environ, DATABASE_URL=_test_database_url(database_name), LOG_LEVEL="INFO", **(env or {}))
    log = log_path.open("w")
    concurrency = ["--concurrency", "2"] if pool == "prefork" else []
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "--pool", pool, *concurrency,
         "--loglevel", "INFO", "-n", f"test-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle"],
        cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )
    worker = WorkerProcess(process, log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if " ready." in worker.log():
            return worker
        if not worker.alive:
            raise RuntimeError("Celery worker exited during start-up:\n" + worker.log())
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("Celery worker did not become ready in 90 s:\n" + worker.log())


def wait_for(predicate, *, timeout: float, what: str, worker: WorkerProcess | None = None):
    """predicate()'s first truthy value, polled every 0.1 s; on timeout an AssertionError with the worker's log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{worker.log()[-4000:]}" if worker else ""))


def stop_worker(worker: WorkerProcess) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (no psutil)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class PrivateRedis:
    """A redis-server of a test's own (append-only, so a restart keeps the queue, as the compose file's Redis does)."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

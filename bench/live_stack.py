"""The web stack the page benchmarks load: gunicorn on loopback with 2 processes x 4 threads (as a small team's
server), started on the benchmark's own database and stopped after; and a client signed in as the benchmark's
reader. Shared by bench/report_page.py and bench/table_page.py so both measure the same stack."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def gunicorn_stack(env: dict, port: int) -> Iterator[str]:
    """gunicorn serving webapp.wsgi with `env`, ready (its /healthz answers) when this yields its base URL."""
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "webapp.wsgi", "--bind", f"127.0.0.1:{port}",
                            "--workers", "2", "--threads", "4", "--timeout", "120"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield base
    finally:
        web.terminate()
        web.wait(timeout=30)


@contextmanager
def signed_in_client(base: str, username: str, password: str, timeout: float = 120) -> Iterator[httpx.Client]:
    """An httpx client with the reader's session, signed in through the login page as a browser would be."""
    with httpx.Client(base_url=base, timeout=timeout) as client:
        client.get("/accounts/login/")
        signed_in = client.post("/accounts/login/", data={"login": username, "password": password,
                                                          "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                                headers={"Referer": f"{base}/accounts/login/"})
        if signed_in.status_code != 302:  # a bench of login pages would measure nothing it claims
            raise RuntimeError(f"{username} could not sign in: HTTP {signed_in.status_code}")
        yield client

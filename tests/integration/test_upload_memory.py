"""A 199 MiB (209 MB) upload through a real gunicorn worker raises that process's peak RSS by less than
50 MB (the default upload limit is 200 MiB):
the file streams to a temporary file and into storage in chunks, never whole into memory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import factories
from tests.worker import REPO, _test_database_url, child_pids, free_port
from webapp.documents.models import Document

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

UPLOAD_BYTES = 199 * 1024 * 1024
LIMIT_BYTES = 50 * 1024 * 1024


def _peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


@pytest.fixture
def gunicorn_server(tmp_path, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        database = connection.settings_dict["NAME"]
    port = free_port()
    env = dict(os.environ, DATABASE_URL=_test_database_url(database), QUIRE_HTTPS="false")
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "webapp.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--timeout", "300"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError((tmp_path / "gunicorn.log").read_text())
    [worker_pid] = child_pids(process.pid)
    yield url, worker_pid
    process.terminate()
    process.wait(timeout=30)


def test_a_200_mb_upload_adds_under_50_mb_to_the_web_worker(gunicorn_server, tmp_path):
    url, worker_pid = gunicorn_server
    owner = factories.make_user("big")
    workspace = factories.make_workspace(owner, name="Large files")
    big = tmp_path / "bundle.txt"
    line = b"The Supplier shall deliver the goods described in Schedule A within thirty (30) days.\n"
    with big.open("wb") as handle:
        for _ in range(UPLOAD_BYTES // (len(line) * 1000)):
            handle.write(line * 1000)
    size = big.stat().st_size

    with httpx.Client(base_url=url, timeout=300) as client:
        client.get("/accounts/login/")
        client.post("/accounts/login/", data={"login": "big", "password": factories.PASSWORD,
                                              "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                    headers={"Referer": f"{url}/accounts/login/"})
        assert client.get(f"/w/{workspace.id}/").status_code == 200  # warm: templates, database, sessions
        before = _peak_rss(worker_pid)
        with big.open("rb") as handle:
            response = client.post(f"/w/{workspace.id}/upload/", files={"files": ("bundle.txt", handle, "text/plain")},
                                   headers={"Accept": "application/json", "X-CSRFToken": client.cookies["csrftoken"],
                                            "Referer": f"{url}/w/{workspace.id}/"})
        after = _peak_rss(worker_pid)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["results"][0]["outcome"] == "stored"
    document = Document.objects.get(workspace=workspace)
    assert document.size == size > 200 * 1000 * 1000
    growth = after - before
    print(f"\npeak RSS of the gunicorn worker: {before / 2**20:.0f} MiB before, {after / 2**20:.0f} MiB after "
          f"a {size / 2**20:.0f} MiB upload (+{growth / 2**20:.1f} MiB)")
    assert growth < LIMIT_BYTES

"""Fixtures shared by every test group. Paths to the shared corpus are read in place."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis

from tests.worker import start_worker, stop_worker

# No test may reach the internet: a model hub, if anything asks for one, is a closed local port.
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parents[1]


def _find_corpus() -> Path:
    """The shared corpus sits beside the checkout (../shared/corpus); a clone made elsewhere finds it
    through QUIRE_CORPUS_DIR or at the machine's usual place."""
    for candidate in (os.environ.get("QUIRE_CORPUS_DIR"), REPO.parent / "shared" / "corpus", "/work/shared/corpus"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return REPO.parent / "shared" / "corpus"


CORPUS = _find_corpus()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.conf import settings
    from django.db import connection

    # Start from an empty broker database so nothing left by an earlier run is delivered.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        database_name = connection.settings_dict["NAME"]
    worker = start_worker(database_name=database_name, log_path=tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    stop_worker(worker)  # before the test database is dropped: the worker holds connections to it


@pytest.fixture
def wait_for_document():
    from webapp.documents.models import Document

    def _wait(document_id, *, statuses=("ready", "failed"), timeout: float = 120.0, worker=None) -> Document:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            document = Document.objects.get(pk=document_id)
            if not seen or seen[-1] != (document.status, document.progress):
                seen.append((document.status, document.progress))
            if document.status in statuses:
                document.progress_seen = seen
                return document
            time.sleep(0.2)
        log = worker.log()[-4000:] if worker else ""
        raise AssertionError(f"document {document_id} stuck; states seen: {seen}\n{log}")

    return _wait


@pytest.fixture
def owner(db):
    from tests import factories  # imports Django models: only once the app registry is ready, as in a fixture

    return factories.make_user("olivia")


@pytest.fixture
def workspace(owner):
    from tests import factories

    return factories.make_workspace(owner, name="Acme contracts")

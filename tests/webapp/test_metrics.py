"""/metrics: document states and failures from the database, queue depths from Redis, and task runs and
seconds that real worker processes recorded."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests import factories
from webapp.metrics import TASK_STATS_KEY


def _value(body: str, name: str, **labels) -> float | None:
    label = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(label)}\}} ([0-9.e+-]+)$", body, re.M)
    return float(match.group(1)) if match else None


def test_metrics_count_documents_and_read_queue_depths(db, settings):
    import redis

    workspace = factories.make_workspace()
    factories.make_document(workspace, content=b"one")
    factories.make_document(workspace, content=b"two", status="failed", error_code="corrupt")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("engine")
    client.rpush("engine", b"{}", b"{}")  # two waiting messages, as the broker would hold them
    try:
        response = Client().get("/metrics")
    finally:
        client.delete("engine")
    body = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert _value(body, "quire_documents", status="ready") == 1
    assert _value(body, "quire_documents_failed", code="corrupt") == 1
    assert _value(body, "quire_queue_depth", queue="engine") == 2


def test_metrics_token_when_configured(db, settings):
    settings.QUIRE_METRICS_TOKEN = "s3cret-scrape"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape").status_code == 200


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_task_runs_recorded_by_a_real_worker(settings, celery_worker_process, wait_for_document):
    import redis

    from webapp.pipeline.queue import journey_start

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(TASK_STATS_KEY)
    document = factories.make_document(factories.make_workspace(), content=b"Metrics agreement text. " * 30,
                                       status="queued")
    journey_start(document_id=document.id)
    assert wait_for_document(document.id, worker=celery_worker_process).status == "ready"
    body = Client().get("/metrics").content.decode()
    runs = _value(body, "quire_task_runs_total", task="webapp.documents.tasks.document_ingest_task")
    seconds = _value(body, "quire_task_seconds_total", task="webapp.documents.tasks.document_ingest_task")
    assert runs is not None and runs >= 1, body
    assert seconds is not None and seconds > 0


def test_engine_serve_stats_become_engine_metrics(db, settings):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = {"prompt_tokens": 1200, "generated_tokens": 64, "prefill_seconds": 2.5, "decode_seconds": 1.5,
            "kv": {"total_bytes": 1 << 26, "used_bytes": 1 << 20, "page_size": 256}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/v1/quire/stats" else 404)
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.QUIRE_ENGINE = "openai"
    settings.QUIRE_ENGINE_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        text = Client().get("/metrics").content.decode()
    finally:
        server.shutdown()
    assert re.search(r"^quire_engine_generated_tokens_total 64\.0$", text, re.M)
    assert re.search(r"^quire_engine_decode_seconds_total 1\.5$", text, re.M)
    assert _value(text, "quire_engine_kv_bytes", state="used") == 1 << 20

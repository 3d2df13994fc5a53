"""/healthz and /readyz against the real database, Redis and storage, and what they say when a part is gone."""

from __future__ import annotations

import http.server
import threading

import pytest
from django.test import Client


@pytest.fixture
def models_server():
    """A stand-in OpenAI-compatible server that answers GET /v1/models, as vLLM or `engine serve` would."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            ok = self.path == "/v1/models"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"object": "list", "data": [{"id": "m"}]}' if ok else b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_healthz_needs_nothing_but_the_process(db):
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_database_broker_storage(db, settings):
    settings.QUIRE_ENGINE = "none"
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert {name: check["state"] for name, check in body["checks"].items()} == {
        "database": "ok", "broker": "ok", "storage": "ok", "engine": "none configured",
    }


def test_readyz_is_503_when_the_broker_is_gone_and_leaks_no_address(db, settings):
    settings.QUIRE_ENGINE = "none"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "not ready"
    assert body["checks"]["broker"]["state"].startswith("failed: ")
    assert body["checks"]["database"]["state"] == "ok"
    assert "127.0.0.1" not in response.content.decode()


def test_readyz_reaches_an_openai_compatible_engine(db, settings, models_server):
    settings.QUIRE_ENGINE = "openai"
    settings.QUIRE_ENGINE_BASE_URL = models_server
    assert Client().get("/readyz").json()["checks"]["engine"]["state"] == "ok"
    settings.QUIRE_ENGINE_BASE_URL = "http://127.0.0.1:9/v1"  # closed port
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["engine"]["state"] == "failed: ConnectError"
    assert ":9" not in response.content.decode()


def test_readyz_shows_the_local_engines_memory_plan_and_is_503_when_it_does_not_fit(db, settings):
    from engine.tiny import cached_tiny_model

    settings.QUIRE_ENGINE = "local"
    settings.QUIRE_ENGINE_DEVICE = "cpu"
    settings.QUIRE_ENGINE_MODEL = str(cached_tiny_model("llama", max_context=16384))
    settings.QUIRE_ENGINE_MAX_CONTEXT = None
    engine = Client().get("/readyz").json()["checks"]["engine"]
    assert engine["state"] == "ok" and "16,384-token cache" in engine["detail"] and engine["detail"].endswith("it fits.")
    settings.QUIRE_ENGINE_MAX_CONTEXT = 1 << 40  # a cache no machine holds
    response = Client().get("/readyz")
    engine = response.json()["checks"]["engine"]
    assert response.status_code == 503 and engine["state"] == "failed" and "GiB short" in engine["detail"]


def test_readyz_names_a_broken_local_checkpoint_without_its_server_path(db, settings, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama", "quantization_config": {"quant_method": "fp3"}}')
    settings.QUIRE_ENGINE = "local"
    settings.QUIRE_ENGINE_DEVICE = "cpu"
    settings.QUIRE_ENGINE_MODEL = str(folder)
    response = Client().get("/readyz")
    engine = response.json()["checks"]["engine"]
    assert response.status_code == 503 and engine["detail"].startswith("checkpoint_invalid: my-model/config.json")
    assert str(tmp_path) not in response.content.decode()

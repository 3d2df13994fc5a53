"""Liveness and readiness for load balancers and orchestrators; no login, nothing sensitive in the body.

/healthz answers while the web process can serve a request at all. /readyz answers 200 only when
what a request needs is reachable: the database, the broker, file storage and, for an OpenAI-compatible
engine, its server; for the local engine, whether its memory plan fits (engine.model_plan, from config.json
alone), with the plan's sentence as the check's detail. Each check is bounded in time, and a failure names
only the check and the kind of error, never a URL, host, credential or server path.
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from engine.api import EngineError
from webapp.engines import engine_model_label, engine_plan, engine_server_get

_TIMEOUT_S = 3.0


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _broker() -> str:
    from webapp.celery import app

    with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=_TIMEOUT_S)
    return "ok"


def _storage() -> str:
    """Write, read back and delete a small probe: a read-only or full volume is not ready."""
    name = default_storage.save(f"health/probe-{uuid.uuid4().hex}", ContentFile(b"quire"))
    try:
        with default_storage.open(name, "rb") as probe:
            if probe.read() != b"quire":
                raise OSError("probe read back differently")
    finally:
        default_storage.delete(name)
    return "ok"


class NotReady(Exception):
    """A check that failed for a reason worth showing (it names no URL, host or credential)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _engine() -> str | tuple[str, str]:
    if settings.QUIRE_ENGINE == "none":
        return "none configured"
    if settings.QUIRE_ENGINE == "local":
        # Loaded in the engine worker, not here; the memory plan (config.json only) says whether it can be.
        try:
            plan = engine_plan()
        except EngineError as error:
            label = engine_model_label()
            raise NotReady(f"{error.code}: {error.message.replace(settings.QUIRE_ENGINE_MODEL.rstrip('/'), label)}") from error
        if plan is None:
            return "in the engine worker"
        if not plan.fits:
            raise NotReady(plan.message)
        return "ok", plan.message
    engine_server_get("models", timeout_s=_TIMEOUT_S)
    return "ok"


CHECKS = {"database": _database, "broker": _broker, "storage": _storage, "engine": _engine}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results, ready = {}, True
    for name, check in CHECKS.items():
        started = time.monotonic()
        detail = None
        try:
            state = check()
            if isinstance(state, tuple):
                state, detail = state
        except NotReady as error:
            state, detail, ready = "failed", error.detail, False
        except Exception as error:  # any failure makes the instance not ready; the kind is enough to act on
            state, ready = f"failed: {type(error).__name__}", False
        results[name] = {"state": state, "ms": round((time.monotonic() - started) * 1000)}
        if detail:
            results[name]["detail"] = detail
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503)

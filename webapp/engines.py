"""The engine the settings ask for, built by the engine factory (engine/factory.py) once per process.

The engine worker keeps a local model loaded across tasks; building it again per task would spend
most of each task loading weights. Nothing here decides what an engine is used for.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from engine.api import Engine, EngineError, is_random_weight_checkpoint
from engine.factory import EngineSpec, build_engine

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_built: dict[tuple, Engine] = {}


def engine_spec() -> EngineSpec:
    """The engine the settings describe, in the form the engine factory takes (QUIRE_ENGINE is local or openai)."""
    return EngineSpec(
        kind=settings.QUIRE_ENGINE,
        model=settings.QUIRE_ENGINE_MODEL,
        device=settings.QUIRE_ENGINE_DEVICE,
        memory_budget_bytes=settings.QUIRE_ENGINE_MEMORY_BUDGET_BYTES,
        max_batch_tokens=settings.QUIRE_ENGINE_MAX_BATCH_TOKENS,
        base_url=settings.QUIRE_ENGINE_BASE_URL,
        max_context=settings.QUIRE_ENGINE_MAX_CONTEXT,
        extra_body=settings.QUIRE_ENGINE_EXTRA_BODY,
        timeout_s=settings.QUIRE_ENGINE_TIMEOUT_S,
        api_key=settings.QUIRE_ENGINE_API_KEY or None,
        prefix_cache_dir=settings.QUIRE_ENGINE_PREFIX_CACHE_DIR or None,
    )


def engine_from_settings() -> Engine | None:
    """The configured engine, built once per process and settings (engine.factory.build_engine); None for
    QUIRE_ENGINE=none."""
    choice = settings.QUIRE_ENGINE
    if choice == "none":
        return None
    if choice not in ("local", "openai"):
        raise ImproperlyConfigured(f"QUIRE_ENGINE={choice!r}: use none, local or openai.")
    if not settings.QUIRE_ENGINE_MODEL:
        raise ImproperlyConfigured(f"QUIRE_ENGINE={choice} needs QUIRE_ENGINE_MODEL.")
    spec = engine_spec()
    with _lock:
        if spec.key() not in _built:
            _built[spec.key()] = build_engine(spec)
        return _built[spec.key()]


def engine_plan():
    """The local engine's memory plan (engine.model_plan.ModelPlan) for the configured model, device and context,
    from its config.json alone; None when the engine is not local, or this process has no torch (a web host
    that leaves the model to engine workers elsewhere). Raises EngineError for a folder that cannot be planned."""
    if settings.QUIRE_ENGINE != "local":
        return None
    try:
        from engine.local.loading import resolve_source
        from engine.model_plan import plan_model
    except ImportError:
        return None
    source = resolve_source(settings.QUIRE_ENGINE_MODEL)
    return plan_model(source, context=settings.QUIRE_ENGINE_MAX_CONTEXT, device=settings.QUIRE_ENGINE_DEVICE)


def engine_plan_log(*, consumes_engine_queue: bool) -> None:
    """Said once when an engine worker starts: whether the configured model fits, before a task loads it."""
    if not consumes_engine_queue:
        return
    try:
        plan = engine_plan()
    except EngineError as error:
        logger.error("The configured engine model cannot be used: %s", error.message)
        return
    if plan is not None:
        (logger.info if plan.fits else logger.error)("Engine memory plan: %s", plan.message)


def model_label(model_id: str) -> str:
    """A model's name for pages and rows: a local checkpoint's folder name, never the server's path."""
    return (model_id or "").rstrip("/").rsplit("/", 1)[-1][:200]


def engine_model_label() -> str:
    """The configured model's name, before any engine is built."""
    return model_label(settings.QUIRE_ENGINE_MODEL)


def engine_is_test_model() -> bool:
    """Whether the configured model's output means nothing: the demo setting, or a random-weight checkpoint built by
    `python -m engine tiny-model` (it carries a marker file)."""
    if settings.QUIRE_ENGINE_DEMO:
        return True
    # `engine serve` names its model by the checkpoint's folder, so a server on this host is recognised too.
    return settings.QUIRE_ENGINE != "none" and is_random_weight_checkpoint(settings.QUIRE_ENGINE_MODEL or "")


def engine_server_get(path: str, *, timeout_s: float):
    """GET `path` (under /v1) from the configured OpenAI-compatible server, with its API key: for the
    readiness check and the metrics scrape, which must stay short and never build a full client."""
    import httpx

    root = settings.QUIRE_ENGINE_BASE_URL.strip().rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {settings.QUIRE_ENGINE_API_KEY}"} if settings.QUIRE_ENGINE_API_KEY else {}
    response = httpx.get(f"{root}/v1/{path.lstrip('/')}", headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return response

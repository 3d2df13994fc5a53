"""Prometheus metrics at /metrics, gathered when scraped, so that every process's work is counted:

- queue depths, read from the broker (Redis list lengths per Celery queue);
- documents by state and failures by error code, from the database;
- task runs, failures and seconds per task name, which every worker adds to a Redis hash through Celery's
  signals (a worker process has no HTTP port of its own to scrape);
- with QUIRE_ENGINE=openai pointing at our `engine serve`: its tokens, seconds and KV-cache bytes.

The counts span every workspace, so they are never public: with QUIRE_METRICS_TOKEN set, a scraper sends it
as a bearer token, from wherever; without one, only a direct connection from an address in QUIRE_METRICS_ALLOW
(loopback by default) is answered. Everyone else gets 401 or 403 and no number.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from functools import lru_cache

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

TASK_STATS_KEY = "quire:metrics:tasks"
_QUEUES = ("default", "engine")


_clients: dict = {}


def _redis():
    """One client (and connection pool) per broker URL and process: record_task runs after every task."""
    import redis

    url = settings.CELERY_BROKER_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _clients[url]


def record_task(name: str, seconds: float, failed: bool) -> None:
    """Called from the worker after every task; never lets a metrics hiccup touch the task."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return
    try:
        pipe = _redis().pipeline()
        pipe.hincrby(TASK_STATS_KEY, f"{name}|runs", 1)
        pipe.hincrbyfloat(TASK_STATS_KEY, f"{name}|seconds", seconds)
        if failed:
            pipe.hincrby(TASK_STATS_KEY, f"{name}|failures", 1)
        pipe.execute()
    except Exception:  # noqa: BLE001 - metrics are best effort
        logger.debug("could not record task metrics", exc_info=True)


class _Collector:
    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        # Not at the top: webapp.celery imports this module before Django's app registry is ready.
        from webapp.documents.models import Document

        states = GaugeMetricFamily("quire_documents", "Documents by pipeline state.", labels=["status"])
        for row in Document.objects.values("status").annotate(n=Count("id")):
            states.add_metric([row["status"]], row["n"])
        yield states
        failures = GaugeMetricFamily("quire_documents_failed", "Failed documents by error code.", labels=["code"])
        for row in Document.objects.filter(status="failed").values("error_code").annotate(n=Count("id")):
            failures.add_metric([row["error_code"] or "unknown"], row["n"])
        yield failures

        yield from _engine_metrics()

        if not settings.CELERY_BROKER_URL.startswith("redis"):
            return
        try:
            client = _redis()
            depth = GaugeMetricFamily("quire_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"])
            for queue in _QUEUES:
                depth.add_metric([queue], client.llen(queue))
            raw = client.hgetall(TASK_STATS_KEY)
        except Exception:  # noqa: BLE001 - the broker being down is itself visible in /readyz
            logger.warning("metrics: broker unreachable")
            return
        yield depth
        stats: dict[tuple[str, str], float] = {}
        for key, value in raw.items():
            name, kind = key.decode().rsplit("|", 1)
            stats[(name, kind)] = float(value)
        runs = CounterMetricFamily("quire_task_runs", "Celery task runs.", labels=["task"])
        fails = CounterMetricFamily("quire_task_failures", "Celery task runs that raised.", labels=["task"])
        seconds = CounterMetricFamily("quire_task_seconds", "Seconds spent in Celery tasks.", labels=["task"])
        for (name, kind), value in sorted(stats.items()):
            {"runs": runs, "failures": fails, "seconds": seconds}[kind].add_metric([name], value)
        yield from (runs, fails, seconds)


def _engine_metrics():
    """Our `engine serve` reports tokens, seconds and KV-cache bytes at /v1/quire/stats; rates (tokens/s)
    are for PromQL: rate(quire_engine_generated_tokens_total) / rate(quire_engine_decode_seconds_total).
    vLLM and SGLang publish their own /metrics: scrape those directly."""
    import httpx
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from webapp.engines import engine_server_get

    if settings.QUIRE_ENGINE != "openai":
        return
    try:
        body = engine_server_get("quire/stats", timeout_s=2).json()
    except (httpx.HTTPError, ValueError):
        return  # not our server, or not reachable: /readyz says which
    for key, help_text in (("prompt_tokens", "Prompt tokens the engine read."),
                           ("generated_tokens", "Tokens the engine generated."),
                           ("prefill_seconds", "Seconds the engine spent reading prompts."),
                           ("decode_seconds", "Seconds the engine spent generating.")):
        if key in body:
            yield CounterMetricFamily(f"quire_engine_{key}", help_text, value=float(body[key]))
    kv = body.get("kv") or {}
    if "total_bytes" in kv:
        gauge = GaugeMetricFamily("quire_engine_kv_bytes", "The engine's paged KV cache.", labels=["state"])
        gauge.add_metric(["total"], float(kv["total_bytes"]))
        gauge.add_metric(["used"], float(kv["used_bytes"]))
        yield gauge


# Headers a proxy adds: a request carrying one was relayed, so its peer address (the proxy, often 127.0.0.1)
# says nothing about who asked. Their values are never read, only their presence: anyone may send them.
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host", "X-Forwarded-Proto")


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allowed)


def _address_allowed(request: HttpRequest) -> bool:
    """REMOTE_ADDR (the connection's peer, never a header) is in QUIRE_METRICS_ALLOW, and no proxy relayed it."""
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
        peer = peer.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket
    return any(peer in network for network in _networks(tuple(settings.QUIRE_METRICS_ALLOW)))


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    token = settings.QUIRE_METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), token.encode()):
            return HttpResponse("metrics need the token\n", status=401, content_type="text/plain")
    elif not _address_allowed(request):
        return HttpResponse("metrics are answered only to QUIRE_METRICS_ALLOW or with QUIRE_METRICS_TOKEN\n",
                            status=403, content_type="text/plain")
    registry = CollectorRegistry()
    registry.register(_Collector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def connect_task_signals() -> None:
    """Time every task in the worker (webapp/celery.py connects this)."""
    from celery.signals import task_postrun, task_prerun

    started: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _start(task_id=None, **kwargs):
        started[task_id] = time.monotonic()

    @task_postrun.connect(weak=False)
    def _stop(task_id=None, task=None, state=None, **kwargs):
        began = started.pop(task_id, None)
        if began is not None and task is not None:
            record_task(task.name, time.monotonic() - began, failed=state == "FAILURE")

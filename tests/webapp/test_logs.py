"""Structured logs: JSON lines that carry the request id (echoed to the client) or the Celery task id."""

from __future__ import annotations

import json
import logging

from django.test import Client

from webapp.logs import ContextFilter, JsonFormatter, RequestIdMiddleware


def _format(record: logging.LogRecord) -> dict:
    ContextFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_log_line_inside_a_request_carries_its_id():
    lines = []

    def view(request):
        lines.append(_format(logging.LogRecord("webapp.x", logging.WARNING, __file__, 1, "upload %s", ("a.pdf",), None)))
        from django.http import HttpResponse

        return HttpResponse("ok")

    class Request:
        headers = {"X-Request-ID": "proxy-abc-123456"}

    response = RequestIdMiddleware(view)(Request())
    assert response["X-Request-ID"] == "proxy-abc-123456"
    assert lines[0]["request_id"] == "proxy-abc-123456"
    assert lines[0]["message"] == "upload a.pdf" and lines[0]["level"] == "WARNING" and lines[0]["logger"] == "webapp.x"


def test_hostile_or_missing_request_ids_are_replaced(db):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id\nInjected: yes")
    assert len(response["X-Request-ID"]) == 32 and "\n" not in response["X-Request-ID"]
    assert Client().get("/healthz")["X-Request-ID"] != response["X-Request-ID"]


def test_exceptions_are_one_json_line_and_task_ids_come_from_celery():
    from unittest import mock

    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        record = logging.LogRecord("webapp.y", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    task = mock.Mock()
    task.request.id = "task-42"
    with mock.patch("celery.current_task", task):
        entry = _format(record)
    assert entry["task_id"] == "task-42" and "ValueError: broken" in entry["exception"]
    assert "request_id" not in entry
    assert "\n" not in JsonFormatter().format(record)


def test_servers_log_json_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings'; django.setup();"
            "import logging; h = logging.getLogger().handlers[0]; print(type(h.formatter).__name__)")
    env = {k: v for k, v in os.environ.items() if k not in ("QUIRE_LOG_FORMAT", "DJANGO_SETTINGS_MODULE")}
    run = lambda extra: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: E731
                                       env={**env, **extra}, check=True).stdout.strip()
    assert run({}) == "JsonFormatter"
    assert run({"QUIRE_LOG_FORMAT": "plain"}) == "Formatter"

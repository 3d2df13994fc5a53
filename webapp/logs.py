"""Structured logs: one JSON object per line, carrying the request id or Celery task id it belongs to.

A request id comes from the proxy's X-Request-ID when it looks like one, otherwise it is made here; it
is sent back in the response so a user's report of a failure can be matched to the log lines.

No log line may carry a credential: invitation, password-reset and calendar-feed tokens live in URLs, so
redact_secrets takes them out of every line Quire (RedactSecretsFilter) and gunicorn (GunicornLogger) write.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid

from gunicorn import glogging

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("quire_request_id", default="")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


def _task_id() -> str:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a dependency
        return ""
    task = current_task
    return getattr(getattr(task, "request", None), "id", None) or "" if task else ""


class ContextFilter(logging.Filter):
    """Adds request_id and task_id to every record, for either formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.task_id = _task_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "task_id"):
            value = getattr(record, key, "")
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# --- Tokens out of logs ---------------------------------------------------------------------------------------

REDACTED = "[redacted]"
# A path separator, also percent-encoded (a token inside ?next=%2Finvites%2F...), and one path segment.
_SEP = r"(?:/|%2[Ff])"
_SEGMENT = r"[^/?#&;\s\"'%]+"
_END = r"(?=[/?#&;\s\"'%]|$)"
_SECRETS = (
    # /invites/<token>/ (workspace invitations)
    re.compile(rf"(?P<keep>{_SEP}invites{_SEP}){_SEGMENT}"),
    # /feeds/<token>.ics (calendar feeds): the suffix stays, so the line still says what was asked for
    re.compile(rf"(?P<keep>{_SEP}feeds{_SEP})[^/?#&;\s\"'%]+?(?=(?:\.ics)?{_END})"),
    # Django's /reset/<uidb64>/<token>/; its token-free second step, /reset/<uidb64>/set-password/, stays
    re.compile(rf"(?P<keep>{_SEP}reset{_SEP}{_SEGMENT}{_SEP})(?!set-password{_END}){_SEGMENT}"),
    # django-allauth's /password/reset/key/<uidb36>-<key>/ and /confirm-email/<key>/
    re.compile(rf"(?P<keep>{_SEP}(?:key|confirm-email){_SEP}){_SEGMENT}"),
    # A query parameter that carries a credential (?token=, ?key=, an OpenID Connect callback's ?code=&state=),
    # also inside an encoded ?next=
    re.compile(r"(?P<keep>(?:[?&;]|%3[Ff]|%26)(?:[\w.-]*(?:token|key|secret|password|signature)|code|state|sig|otp)"
               r"(?:=|%3[Dd]))(?:(?!%26)[^&#;\s\"'])+", re.IGNORECASE),
)


def redact_secrets(text: str) -> str:
    """`text` (a URL, a request line, a whole log line) with every token Quire puts in a URL replaced by
    [redacted]; the rest of the line stays as it was."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda match: match.group("keep") + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """On a handler or logger: rewrites a record's message through redact_secrets before anything formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
            return True
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT = RedactSecretsFilter()


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with tokens taken out of its access and error lines, whatever access_log_format says
    (request line, referer, headers). Every gunicorn command of Quire names it: --logger-class webapp.logs.GunicornLogger."""

    def setup(self, cfg) -> None:
        super().setup(cfg)  # also on a configuration reload; addFilter does not add the same filter twice
        self.error_log.addFilter(_REDACT)
        self.access_log.addFilter(_REDACT)

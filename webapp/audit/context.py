"""Where the current request came from, for audit entries written deep inside services.

Services take no request object (tasks and the shell call them too); the middleware puts the caller's
address here for the length of one request instead.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    ip: str | None = None
    user_agent: str = ""
    via: str = ""


_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar("quire_audit_origin", default=Origin())


def current_origin() -> Origin:
    return _origin.get()


def origin_of(request) -> Origin:
    # REMOTE_ADDR is the peer; behind a proxy, the proxy sets it from X-Forwarded-For (gunicorn
    # --forwarded-allow-ips), which we do not parse ourselves because any client can send that header.
    ip = request.META.get("REMOTE_ADDR") or None
    via = "api" if request.path.startswith("/api/") else "web"
    return Origin(ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", "")[:255], via=via)


class AuditOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _origin.set(origin_of(request))
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)

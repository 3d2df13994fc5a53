"""What every page's header and the sign-in pages need to know about how people sign in here."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def sign_in(request: HttpRequest) -> dict:
    return {"sso_only": settings.QUIRE_SSO_ONLY}

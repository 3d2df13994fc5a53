"""SSO-only mode (settings.QUIRE_SSO_ONLY): the local-password pages answer 404 and a password log-in is refused, so
the only way in through a browser is the OpenID Connect provider. API tokens are not touched.

Decided per request from settings (not by leaving URLs out), so that one process can be switched in tests.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

# Every page that makes, uses, resets or changes a local password, or changes the address SSO matches on.
LOCAL_PASSWORD_PAGES = frozenset({
    "account_signup",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_change_password",
    "account_set_password",
    "account_email",
    "password_reset_legacy",
})


class SsoOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not settings.QUIRE_SSO_ONLY or request.resolver_match is None:
            return None
        name = request.resolver_match.view_name
        if name in LOCAL_PASSWORD_PAGES:
            raise Http404("This Quire signs in through single sign-on only.")
        if name == "account_login" and request.method == "POST":
            raise PermissionDenied("This Quire signs in through single sign-on only: local passwords are turned off.")
        if name == "admin:login":  # the admin's own password form: staff sign in through SSO like everyone else
            then = request.GET.get("next") or reverse("admin:index")
            return redirect(f"{reverse('account_login')}?{urlencode({'next': then})}")
        return None

"""Quire's rules on top of django-allauth: who may sign up locally, and which single sign-on logins are accepted.

An SSO login is matched to an account by its email address, so it is accepted only with an address the provider
says it verified; anything else is refused with a page that says why, and no account is made or entered.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return not settings.QUIRE_SSO_ONLY


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        # The provider decides who has an account there; a new SSO user has no workspace until invited.
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        """Refuse a login without an address the provider verified, for new and returning users alike."""
        if any(address.verified for address in sociallogin.email_addresses):
            return
        given = [address.email for address in sociallogin.email_addresses]
        raise ImmediateHttpResponse(render(
            request, "socialaccount/refused.html",
            {"provider_name": sociallogin.account.get_provider(request).name, "email": given[0] if given else None},
            status=403,
        ))

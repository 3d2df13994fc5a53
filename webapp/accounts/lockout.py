"""Login lockout on django-axes: one limit per username and address, and a separate, higher one per address across
usernames, so that one address cannot try a few passwords on every account. Never reveals whether a username exists.

settings.AXES_LOCKOUT_PARAMETERS lists both sets; axes compares one failure count with one limit, so the handler
reports the address's count in the pair limit's units. The 429 says, in Retry-After, when the lockout ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from allauth.account.models import EmailAddress
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def _is_address_only(parameters) -> bool:
    return parameters in (["ip_address"], "ip_address")


class AddressLimitHandler(AxesDatabaseHandler):
    def _attempt_sets(self, request: HttpRequest, credentials: dict | None) -> Iterator[tuple[bool, int, QuerySet]]:
        """(address alone?, its limit, its attempts within the cool-off) for each set of AXES_LOCKOUT_PARAMETERS."""
        pair_limit = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        for params, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            address_only = _is_address_only(params)
            yield address_only, settings.QUIRE_LOGIN_ADDRESS_FAILURE_LIMIT if address_only else pair_limit, attempts

    def get_failures(self, request, credentials: dict | None = None) -> int:
        pair_limit = get_failure_limit(request, credentials)
        counted = 0
        for address_only, limit, attempts in self._attempt_sets(request, credentials):
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if failures >= limit:
                return max(failures, pair_limit)  # at or over the pair limit: axes locks out
            if not address_only:
                counted = max(counted, failures)  # an address below its own limit must not count against the pair's
        return counted

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """A successful login clears that username's failures at that address, never the address's others: an
        attacker with an account of their own must not wipe their guessing on everyone else's by logging in."""
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()
        return count

    def lockout_state(self, request: HttpRequest, credentials: dict | None = None) -> tuple[bool, int | None]:
        """(whether the whole address is locked out, seconds until every lockout that applies has ended; None
        without a cool-off)."""
        cool_off = get_cool_off(request)
        now = timezone.now()
        address_locked, ends = False, now
        for address_only, limit, attempts in self._attempt_sets(request, credentials):
            # A row stops counting a cool-off after its last failure; the lockout ends once the rows still counting
            # hold fewer failures than the limit.
            rows = list(attempts.order_by("attempt_time").values_list("attempt_time", "failures_since_start"))
            remaining = sum(failures for _, failures in rows)
            if remaining < limit:
                continue
            address_locked = address_locked or address_only
            for attempt_time, failures in rows:
                remaining -= failures
                if remaining < limit and cool_off is not None:
                    ends = max(ends, attempt_time + cool_off)
                    break
        if cool_off is None:
            return address_locked, None
        return address_locked, max(1, math.ceil((ends - now).total_seconds()))


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """settings.AXES_LOCKOUT_CALLABLE: the 429 page, with Retry-After in seconds."""
    address_locked, retry_after = AddressLimitHandler().lockout_state(request, credentials)
    response = render(request, settings.AXES_LOCKOUT_TEMPLATE,
                      {"address_locked": address_locked,
                       "retry_minutes": math.ceil(retry_after / 60) if retry_after is not None else None},
                      status=settings.AXES_HTTP_RESPONSE_CODE)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def lockout_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """settings.AXES_USERNAME_CALLABLE: the username a log-in attempt counts against.

    django-allauth's form posts what was typed as "login" (a username or an email address) and authenticates with it
    as "username" (and "email"); Django's admin posts "username"; axes' own success handler passes the account's
    username as "login". Whatever was typed is resolved to its account's username, so one account has one count
    however it is spelled; a name with no account counts under itself, folded to lower case, and is locked out alike.
    """
    if credentials:
        typed = credentials.get("username") or credentials.get("login") or credentials.get("email")
    else:
        data = getattr(request, "data", request.POST)
        typed = data.get("login") or data.get("username")
    typed = str(typed or "").strip()
    if not typed:
        return None
    # axes asks several times per log-in (lockout check, failure record, attempts): resolve each spelling once.
    resolved = request.__dict__.setdefault("_quire_lockout_usernames", {})
    if typed not in resolved:
        resolved[typed] = _account_username(typed)
    return resolved[typed]


def _account_username(typed: str) -> str:
    users = get_user_model().objects.order_by("pk")
    user = users.filter(username__iexact=typed).first()
    if user is None and "@" in typed:
        addresses = EmailAddress.objects.filter(email__iexact=typed).select_related("user")
        address = addresses.order_by("-verified", "pk").first()
        user = address.user if address else users.filter(email__iexact=typed).first()
    return user.get_username() if user else typed.lower()

"""API tokens, and the page an old password-reset link lands on. Sign-up, log in/out, email verification, password
change and reset, single sign-on and two-factor are django-allauth's views (see webapp/urls.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.accounts.forms import TokenCreateForm
from webapp.api import tokens
from webapp.audit.services import audit_events_for_account


@require_GET
def password_reset_legacy_view(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """A reset link mailed by the release before django-allauth (/accounts/reset/<uid>/<token>/): it cannot be used
    any more, so say so and offer a new one rather than a bare 404."""
    return render(request, "account/password_reset_legacy.html")


@login_required
@require_http_methods(["GET", "POST"])
def token_list_view(request: HttpRequest) -> HttpResponse:
    """Personal API tokens: create (the token is shown once, on this response only), list, revoke."""
    created = None
    form = TokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = tokens.token_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error)
    response = render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "created": created,
            "tokens": tokens.token_list(user=request.user),
            "events": audit_events_for_account(user=request.user),
        },
    )
    response["Cache-Control"] = "no-store"  # the new token must not linger in a cache
    return response


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = tokens.token_revoke(user=request.user, token_id=token_id)
    except ValidationError:
        raise Http404("No such token.") from None
    messages.success(request, f"Revoked “{token.name}”.")
    return redirect("tokens")

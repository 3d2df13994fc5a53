"""Every URL pattern and API route, walked from the resolver: a user of another workspace gets 404 (or 405
for a method the route does not take) and an anonymous client is sent to log in (pages) or gets 401 (API),
and no answer carries a byte of the foreign workspace. A new route fails this test until it is classified
below, so nothing is added unchecked."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.conftest import FOREIGN_NAME, FOREIGN_SECRET
from webapp.documents.models import Document
from webapp.workspaces.models import Membership, Workspace

pytestmark = pytest.mark.security

# Routes that hold no workspace data of anyone but the caller (or are public by design).
UNSCOPED = {
    # django-allauth (webapp/urls.py): the caller's own account, sign-up, two-factor and single sign-on.
    "account_login", "account_logout", "account_inactive", "account_signup", "account_reauthenticate",
    "account_request_reauthentication_code", "account_confirm_reauthentication_code", "account_email",
    "account_email_verification_sent", "account_confirm_email", "account_change_password", "account_set_password",
    "account_reset_password", "account_reset_password_done", "account_reset_password_from_key",
    "account_reset_password_from_key_done", "account_confirm_login_code",
    "mfa_index", "mfa_authenticate", "mfa_reauthenticate", "mfa_activate_totp", "mfa_deactivate_totp",
    "mfa_view_recovery_codes", "mfa_generate_recovery_codes", "mfa_download_recovery_codes",
    "socialaccount_login_cancelled", "socialaccount_login_error", "socialaccount_signup", "socialaccount_connections",
    "openid_connect_login", "openid_connect_callback",
    "password_reset_legacy",  # a reset link of the release before allauth: a page saying to ask for a new one
    "workspaces:list", "workspaces:invitation-accept", "tokens", "token-revoke",
    "api:schema", "api:me", "api:workspace-list", "healthz", "readyz", "metrics",
    "obligations:feed",  # no session by design: the token in its URL is the credential (tests/webapp/test_obligations_app.py)
}
# Everything under /admin/ is Django's admin: staff only, checked in test_admin_is_staff_only.
ADMIN_NAMESPACE = "admin"
ALL_METHODS = ("get", "post", "patch", "delete")


def walk(patterns, prefix: str = "", namespace: str | None = None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace) if n) or None
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield name, prefix + str(entry.pattern)


def scoped_routes():
    for name, route in walk(get_resolver().url_patterns):
        if name is None or name in UNSCOPED or name.startswith(ADMIN_NAMESPACE + ":"):
            continue
        yield name, route


def fill(name: str, route: str, world) -> str:
    kwargs = {}
    if "<uuid:workspace_id>" in route:
        kwargs["workspace_id"] = world.foreign_workspace.id
    if "<uuid:document_id>" in route:
        kwargs["document_id"] = world.foreign_document.id
    if "<int:membership_id>" in route:
        kwargs["membership_id"] = world.foreign_membership.id
    if "<uuid:analysis_id>" in route:
        kwargs["analysis_id"] = world.foreign_analysis.id
    if "<int:finding_id>" in route:
        kwargs["finding_id"] = world.foreign_finding.id
    if "<uuid:batch_id>" in route:
        kwargs["batch_id"] = world.foreign_batch.id
    if "<uuid:job_id>" in route:
        kwargs["job_id"] = world.foreign_export.id
    if "<slug:name>" in route:
        kwargs["name"] = "contract"
    if "<int:number>" in route:
        kwargs["number"] = 1
    if "<str:fmt>" in route:
        kwargs["fmt"] = "json"
    return reverse(name, kwargs=kwargs)


def test_every_route_is_classified():
    unknown = []
    for name, route in walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue
        if name is None:
            unknown.append(route)
        elif name in UNSCOPED or name.startswith(ADMIN_NAMESPACE + ":"):
            continue
        elif not any(p in route for p in ("<uuid:workspace_id>", "<uuid:document_id>", "<uuid:analysis_id>",
                                          "<int:finding_id>", "<uuid:batch_id>", "<uuid:job_id>")):
            unknown.append(name)
    assert not unknown, f"routes with no workspace scope and no classification: {unknown}"


def _assert_no_foreign_bytes(response, where):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    for secret in (FOREIGN_SECRET, FOREIGN_NAME, "b-secret-plan", "bruno", "bea@"):
        assert secret.encode() not in body, (where, secret)


def _foreign_untouched(world):
    assert Workspace.objects.filter(pk=world.foreign_workspace.pk).exists()
    assert Document.objects.filter(pk=world.foreign_document.pk).exists()
    membership = Membership.objects.get(pk=world.foreign_membership.pk)
    assert membership.role == world.foreign_membership.role


def test_member_of_another_workspace_gets_404_everywhere(world, client_for, api_for):
    routes = list(scoped_routes())
    assert len(routes) >= 25  # the walk found the app's routes, not an empty list
    clients = {"session": client_for(world.owner), "token": api_for(world.owner)}
    checked = 0
    for name, route in routes:
        url = fill(name, route, world)
        for kind, client in clients.items():
            if kind == "token" and not url.startswith("/api/"):
                continue
            for method in ALL_METHODS:
                response = getattr(client, method)(url, content_type="application/json") if method in ("patch",) \
                    else getattr(client, method)(url)
                where = (kind, method, url, response.status_code)
                assert response.status_code in (404, 405), where
                _assert_no_foreign_bytes(response, where)
                checked += 1
    assert checked >= 100
    _foreign_untouched(world)


def test_anonymous_client_is_sent_to_login_or_refused(world, client):
    for name, route in scoped_routes():
        url = fill(name, route, world)
        for method in ALL_METHODS:
            response = getattr(client, method)(url)
            where = (method, url, response.status_code)
            if url.startswith("/api/"):
                assert response.status_code == 401, where
                assert response["WWW-Authenticate"].startswith("Bearer"), where
                assert response.json()["error"]["code"] == "not_authenticated", where
            else:
                assert response.status_code in (302, 405), where
                if response.status_code == 302:
                    assert response["Location"].startswith(reverse("account_login")), where
            _assert_no_foreign_bytes(response, where)
    _foreign_untouched(world)


def test_unscoped_api_lists_hold_only_the_callers_workspaces(world, api_for):
    body = api_for(world.owner).get(reverse("api:workspace-list")).json()
    assert [w["name"] for w in body["results"]] == ["Acme contracts"]
    assert FOREIGN_NAME not in str(body)


def test_someone_elses_token_cannot_be_revoked_and_is_404(world, client_for):
    from webapp.api.tokens import token_create

    theirs = token_create(user=world.foreign_owner, name="theirs").token
    response = client_for(world.owner).post(reverse("token-revoke", args=[theirs.id]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.active


def test_admin_is_staff_only(world, client_for, client):
    assert client.get("/admin/").status_code == 302
    response = client_for(world.owner).get("/admin/documents/document/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

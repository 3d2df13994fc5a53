"""What an outside probe found about access (issue 26): one address guessing across many accounts, lockout answers
that do not say when to come back, empty 403 pages, and a membership id of another workspace answering 400."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories
from webapp.documents.models import Document
from webapp.workspaces.models import Membership

pytestmark = pytest.mark.security

GUESSER = "203.0.113.7"
BYSTANDER = "198.51.100.9"


def _fail(client: Client, username: str):
    return client.post(reverse("account_login"), {"login": username, "password": "not the password"})


def _log_in(client: Client, username: str):
    return client.post(reverse("account_login"), {"login": username, "password": factories.PASSWORD})


def _retry_after(response) -> int:
    value = response["Retry-After"]
    assert value.isdigit(), value  # whole seconds, as RFC 9110 asks, not a date or a fraction
    return int(value)


@pytest.fixture
def limits(settings):
    """Three wrong passwords lock one username at one address; four, over any usernames, lock the address."""
    settings.AXES_FAILURE_LIMIT = 3
    settings.QUIRE_LOGIN_ADDRESS_FAILURE_LIMIT = 4
    return settings


def test_one_address_guessing_across_usernames_is_refused_even_for_a_new_username(world, limits):
    guesser = Client(REMOTE_ADDR=GUESSER)
    for username in (world.owner.username, world.editor.username, world.viewer.username):
        assert _fail(guesser, username).status_code == 200  # below both limits: the form, with its error
    fourth = _fail(guesser, world.foreign_owner.username)  # the address's fourth failure: its limit
    assert fourth.status_code == 429
    # A username never tried from here, with its right password, is refused too.
    refused = _log_in(guesser, world.foreign_membership.user.username)
    assert refused.status_code == 429
    assert b"for every account" in refused.content
    cooloff_s = int(limits.AXES_COOLOFF_TIME * 3600)
    assert 0 < _retry_after(refused) <= cooloff_s
    assert "_auth_user_id" not in guesser.session


def test_address_limit_leaves_other_addresses_alone(world, limits):
    guesser = Client(REMOTE_ADDR=GUESSER)
    for username in ("olivia", "eddie", "vera", "bruno"):
        _fail(guesser, username)
    assert _log_in(guesser, "bea").status_code == 429
    bystander = Client(REMOTE_ADDR=BYSTANDER)
    answer = _log_in(bystander, "bea")
    assert answer.status_code == 302 and "Retry-After" not in answer
    assert bystander.session.get("_auth_user_id") == str(world.foreign_membership.user.pk)


def test_logging_in_to_ones_own_account_does_not_reset_the_address_count(world, limits):
    """An attacker with an account of their own must not wipe the address's failures by logging in between guesses."""
    guesser = Client(REMOTE_ADDR=GUESSER)
    for username in ("olivia", "eddie", "vera"):
        _fail(guesser, username)
    assert _log_in(guesser, "bea").status_code == 302  # their own account: still allowed, one short of the limit
    guesser.logout()
    _fail(guesser, "bruno")
    assert _log_in(Client(REMOTE_ADDR=GUESSER), "bea").status_code == 429


def test_per_username_lockout_answers_429_with_retry_after(world, limits):
    limits.QUIRE_LOGIN_ADDRESS_FAILURE_LIMIT = 6  # the refused fourth try counts too: keep the address below its limit
    guesser = Client(REMOTE_ADDR=GUESSER)
    for _ in range(3):
        _fail(guesser, world.viewer.username)
    locked = _log_in(guesser, world.viewer.username)
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content and b"for this account" in locked.content
    assert 0 < _retry_after(locked) <= int(limits.AXES_COOLOFF_TIME * 3600)
    assert "_auth_user_id" not in guesser.session
    # Only that username is locked at this address.
    assert _log_in(Client(REMOTE_ADDR=GUESSER), world.owner.username).status_code == 302


def test_viewers_forbidden_page_action_says_which_role_is_needed(world, client_for):
    response = client_for(world.viewer).post(reverse("documents:delete", args=[world.document.id]))
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Editors and owners may do this; you are a viewer." in page
    assert "· Quire</title>" in page and world.viewer.username in page  # the site's own page, signed in
    assert Document.objects.filter(pk=world.document.pk).exists()


def test_editors_forbidden_owner_action_says_only_owners_may(world, client_for):
    membership = Membership.objects.get(workspace=world.workspace, user=world.viewer)
    response = client_for(world.editor).post(reverse("workspaces:member-role", args=[world.workspace.id, membership.id]),
                                             {"role": "owner"})
    assert response.status_code == 403
    assert "Owners may do this; you are an editor." in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == "viewer"


def test_403_page_escapes_the_message_it_shows(world, rf):
    from django.core.exceptions import PermissionDenied
    from django.views.defaults import permission_denied

    request = rf.get("/")
    request.user = world.viewer
    response = permission_denied(request, PermissionDenied('<script>alert("x")</script> & more'))
    page = response.content.decode()
    assert response.status_code == 403
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in page and "<script>alert" not in page


def test_api_403_keeps_its_error_body_and_names_the_role_needed(world, api_for):
    response = api_for(world.viewer).delete(reverse("api:document-detail", args=[world.document.id]))
    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"status": 403, "code": "permission_denied",
                                         "message": "Editors and owners may do this; you are a viewer."}}


NOT_FOUND = {"error": {"status": 404, "code": "not_found", "message": "Not found."}}


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_api_membership_id_of_another_workspace_answers_404(world, api_for, method):
    url = reverse("api:member-detail", args=[world.workspace.id, world.foreign_membership.id])
    client = api_for(world.owner)
    response = client.patch(url, '{"role": "viewer"}', content_type="application/json") if method == "patch" \
        else client.delete(url)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert Membership.objects.get(pk=world.foreign_membership.pk).role == "editor"
    # The same answer as for a membership id that does not exist at all: nothing tells them apart.
    missing = reverse("api:member-detail", args=[world.workspace.id, 999_999_999])
    other = client.patch(missing, '{"role": "viewer"}', content_type="application/json") if method == "patch" \
        else client.delete(missing)
    assert (other.status_code, other.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("route", ["workspaces:member-role", "workspaces:member-remove"])
def test_page_membership_id_of_another_workspace_answers_404(world, client_for, route):
    url = reverse(route, args=[world.workspace.id, world.foreign_membership.id])
    response = client_for(world.owner).post(url, {"role": "viewer"})
    assert response.status_code == 404
    assert Membership.objects.get(pk=world.foreign_membership.pk).role == "editor"

"""Accounts of the release before django-allauth keep working after its data migration: the password log-in (no
verification mail), the session they had, their API tokens and the invitations sent to them."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from tests import factories
from webapp.api.tokens import token_create
from webapp.workspaces.models import Membership
from webapp.workspaces.services import member_invite

MIGRATION = ("accounts", "0001_existing_users_verified_email")


def _migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def test_existing_user_session_token_and_invitation_keep_working_after_the_migration(db):
    _migrate(("accounts", None))  # the database as the previous release left it: no allauth addresses
    owner = factories.make_user("olga", verified=False)
    User = get_user_model()
    old = User.objects.create_user(username="otto", email="Otto@Example.com", password=factories.PASSWORD)
    twin = User.objects.create_user(username="otto2", email="otto@example.com", password=factories.PASSWORD)
    nobody = User.objects.create_user(username="anon", email="", password=factories.PASSWORD)
    token = token_create(user=old, name="nightly").raw
    session = Client()
    session.force_login(old, backend="django.contrib.auth.backends.ModelBackend")  # as Django's own log-in left it
    workspace = factories.make_workspace(owner, name="Old team")
    invitation = member_invite(workspace=workspace, inviter=owner, email="otto@example.com", role="editor",
                               base_url="http://testserver")
    assert not EmailAddress.objects.exists()

    _migrate(MIGRATION)

    address = EmailAddress.objects.get(user=old)
    assert (address.email, address.verified, address.primary) == ("otto@example.com", True, True)
    assert EmailAddress.objects.get(user=owner).verified
    # An address two old accounts shared (only the admin could do that): the older keeps it verified.
    assert not EmailAddress.objects.get(user=twin).verified
    assert not EmailAddress.objects.filter(user=nobody).exists()

    assert session.get(reverse("workspaces:list")).status_code == 200  # the session from before still works
    for typed in ("otto", "otto@example.com"):
        response = Client().post(reverse("account_login"), {"login": typed, "password": factories.PASSWORD})
        assert response["Location"] == reverse("workspaces:list"), typed  # straight in: no verification mail
    me = Client().get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "otto"

    accepted = session.post(invitation.url.removeprefix("http://testserver"))
    assert accepted.status_code == 302
    assert Membership.objects.get(workspace=workspace, user=old).role == "editor"

    _migrate(("accounts", None))  # back and forth: rows allauth has are left alone
    _migrate(MIGRATION)
    assert EmailAddress.objects.filter(user=old).count() == 1 and EmailAddress.objects.get(user=old).verified

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tests import factories
from webapp.workspaces.models import Invitation, Membership


def _invite(client, workspace, email="newbie@example.com", role="editor") -> str:
    response = client.post(reverse("workspaces:members", args=[workspace.id]), {"email": email, "role": role})
    assert response.status_code == 302
    return re.search(r"https?://[^/]+(/invites/\S+/)", mail.outbox[-1].body).group(1)


def test_creating_a_workspace_makes_the_creator_owner(login, owner):
    response = login(owner).post(reverse("workspaces:list"), {"name": "Deals 2026"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=owner, workspace__name="Deals 2026")
    assert membership.role == "owner"


def test_invited_user_joins_with_the_invited_role(login, client, workspace):
    link = _invite(login(workspace.created_by), workspace, role="viewer")
    assert mail.outbox[-1].to == ["newbie@example.com"]
    newbie = factories.make_user("newbie", email="Newbie@Example.com")
    client.force_login(newbie)
    assert "Join" in client.get(link).content.decode()
    response = client.post(link)
    assert response.status_code == 302
    assert Membership.objects.get(user=newbie, workspace=workspace).role == "viewer"
    # The link is single-use.
    assert client.post(link).status_code == 410


def test_invitation_link_asks_anonymous_visitor_to_log_in(login, client, workspace):
    link = _invite(login(workspace.created_by), workspace)
    client.logout()
    response = client.get(link)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_expired_invitation_is_refused(login, client, workspace):
    link = _invite(login(workspace.created_by), workspace)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(factories.make_user("newbie", email="newbie@example.com"))
    response = client.post(link)
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not Membership.objects.filter(user__username="newbie").exists()


def test_invitation_cannot_be_used_by_another_address(login, client, workspace):
    link = _invite(login(workspace.created_by), workspace)
    client.force_login(factories.make_user("mallory", email="mallory@example.com"))
    response = client.post(link)
    assert response.status_code == 410
    assert not Membership.objects.filter(user__username="mallory").exists()


def test_stored_token_is_a_hash_not_the_link(login, workspace):
    link = _invite(login(workspace.created_by), workspace)
    token = link.rstrip("/").split("/")[-1]
    assert not Invitation.objects.filter(token_hash=token).exists()


def test_owner_removes_a_member(login, workspace):
    member = factories.make_user()
    membership = factories.add_member(workspace, member, "editor")
    login(workspace.created_by).post(reverse("workspaces:member-remove", args=[workspace.id, membership.id]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_member_leaves_and_then_sees_404(login, workspace):
    member = factories.make_user()
    factories.add_member(workspace, member, "editor")
    client = login(member)
    assert client.post(reverse("workspaces:leave", args=[workspace.id])).status_code == 302
    assert client.get(reverse("workspaces:detail", args=[workspace.id])).status_code == 404


def test_last_owner_cannot_leave_or_be_demoted(login, workspace):
    owner = workspace.created_by
    client = login(owner)
    client.post(reverse("workspaces:leave", args=[workspace.id]))
    own = Membership.objects.get(user=owner, workspace=workspace)
    client.post(reverse("workspaces:member-role", args=[workspace.id, own.id]), {"role": "viewer"})
    own.refresh_from_db()
    assert own.role == "owner"


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_owner_changes_a_role(login, workspace, role):
    membership = factories.add_member(workspace, factories.make_user(), "viewer" if role == "editor" else "editor")
    login(workspace.created_by).post(reverse("workspaces:member-role", args=[workspace.id, membership.id]), {"role": role})
    membership.refresh_from_db()
    assert membership.role == role

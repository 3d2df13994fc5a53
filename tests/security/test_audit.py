"""Every action the trust issue lists leaves one audit entry naming who, what, which object and from where;
the trail cannot be edited from the app and only owners read it."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories
from webapp.audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.security


def _last(action) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).first()
    assert event is not None, f"no {action} event"
    return event


def _upload(client, workspace, name="audited.txt"):
    f = io.BytesIO(b"Audited agreement body text, long enough.")
    f.name = name
    return client.post(reverse("documents:upload", args=[workspace.id]), {"files": [f]}, REMOTE_ADDR="203.0.113.7",
                       HTTP_USER_AGENT="pytest-agent")


def test_document_lifecycle_is_audited_with_origin(world, client_for):
    client = client_for(world.editor)
    _upload(client, world.workspace)
    event = _last(AuditAction.DOCUMENT_UPLOAD)
    assert (event.actor, event.workspace, event.object_label) == (world.editor, world.workspace, "audited.txt")
    assert (event.ip, event.user_agent, event.via) == ("203.0.113.7", "pytest-agent", "web")
    document = world.workspace.documents.get(original_name="audited.txt")

    client.get(reverse("documents:file", args=[document.id]))
    assert _last(AuditAction.DOCUMENT_DOWNLOAD).object_id == str(document.id)
    client.get(reverse("reports:detail", args=[world.document.id]))
    assert _last(AuditAction.REPORT_VIEW).object_id == str(world.document.id)
    client.post(reverse("documents:delete", args=[document.id]))
    deleted = _last(AuditAction.DOCUMENT_DELETE)
    assert deleted.object_label == "audited.txt" and deleted.actor == world.editor


def test_api_actions_are_audited_as_api(world, api_for):
    api = api_for(world.owner)
    api.get(reverse("api:document-file", args=[world.document.id]))
    assert _last(AuditAction.DOCUMENT_DOWNLOAD).via == "api"
    api.get(reverse("api:document-report", args=[world.document.id]))
    assert _last(AuditAction.REPORT_VIEW).via == "api"


def test_member_changes_are_audited(world, client_for):
    owner = client_for(world.owner)
    owner.post(reverse("workspaces:members", args=[world.workspace.id]), {"email": "newbie@example.com", "role": "editor"})
    invite = _last(AuditAction.MEMBER_INVITE)
    assert invite.object_label == "newbie@example.com" and invite.detail["role"] == "editor"

    viewer_membership = world.workspace.memberships.get(user=world.viewer)
    owner.post(reverse("workspaces:member-role", args=[world.workspace.id, viewer_membership.id]), {"role": "editor"})
    role = _last(AuditAction.MEMBER_ROLE)
    assert role.detail == {"before": "viewer", "after": "editor"} and role.object_label == world.viewer.email

    owner.post(reverse("workspaces:member-remove", args=[world.workspace.id, viewer_membership.id]))
    assert _last(AuditAction.MEMBER_REMOVE).object_label == world.viewer.email

    client_for(world.editor).post(reverse("workspaces:leave", args=[world.workspace.id]))
    assert _last(AuditAction.MEMBER_LEAVE).actor == world.editor


def test_invitation_acceptance_is_audited(world, client_for, mailoutbox):
    client_for(world.owner).post(reverse("workspaces:members", args=[world.workspace.id]),
                                 {"email": "joiner@example.com", "role": "viewer"})
    link = next(line for line in mailoutbox[-1].body.splitlines() if "/invites/" in line)
    joiner = factories.make_user("joiner", email="joiner@example.com")
    client_for(joiner).post(link[link.index("/invites/"):])
    join = _last(AuditAction.MEMBER_JOIN)
    assert join.actor == joiner and join.workspace == world.workspace


def test_workspace_create_and_delete_are_audited_and_survive_the_workspace(world, client_for):
    client = client_for(world.owner)
    client.post(reverse("workspaces:list"), {"name": "Short-lived"})
    created = _last(AuditAction.WORKSPACE_CREATE)
    workspace_id = created.workspace_id
    client.post(reverse("workspaces:delete", args=[workspace_id]), {"confirm": "Short-lived"})
    deleted = _last(AuditAction.WORKSPACE_DELETE)
    assert deleted.workspace_id is None and deleted.workspace_label == "Short-lived"  # kept, labels copied


def test_tokens_are_audited(world, client_for):
    client = client_for(world.owner)
    client.post(reverse("tokens"), {"name": "nightly import"})
    created = _last(AuditAction.TOKEN_CREATE)
    assert created.object_label == "nightly import"
    client.post(reverse("token-revoke", args=[created.object_id]))
    assert _last(AuditAction.TOKEN_REVOKE).object_id == created.object_id


def test_logins_and_failures_are_audited(world):
    client = Client()
    client.post(reverse("account_login"), {"login": world.viewer.username, "password": "wrong password"})
    failed = _last(AuditAction.LOGIN_FAILED)
    assert failed.actor is None and failed.actor_label == world.viewer.username
    assert "wrong password" not in json.dumps(failed.detail) + failed.actor_label
    client.post(reverse("account_login"), {"login": world.viewer.username, "password": factories.PASSWORD})
    assert _last(AuditAction.LOGIN).actor == world.viewer
    client.post(reverse("account_logout"))
    assert _last(AuditAction.LOGOUT).actor == world.viewer


def test_audit_export_is_itself_audited_and_owner_only(world, client_for):
    response = client_for(world.owner).get(reverse("audit:csv", args=[world.workspace.id]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert _last(AuditAction.EXPORT).detail == {"format": "csv", "what": "audit log"}
    assert client_for(world.editor).get(reverse("audit:csv", args=[world.workspace.id])).status_code == 403


def test_trail_is_append_only(world, client_for):
    client_for(world.owner).get(reverse("reports:detail", args=[world.document.id]))
    event = _last(AuditAction.REPORT_VIEW)
    event.object_label = "tampered"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(object_label="tampered")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).object_label != "tampered"


def test_owners_see_only_their_workspaces_trail(world, client_for):
    client_for(world.foreign_owner).get(reverse("reports:detail", args=[world.foreign_document.id]))
    page = client_for(world.owner).get(reverse("audit:list", args=[world.workspace.id]))
    assert page.status_code == 200
    assert b"b-secret-plan" not in page.content

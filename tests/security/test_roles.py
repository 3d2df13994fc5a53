"""Viewer, editor and owner against every write, through the pages and the API: a role below the one an
action needs gets 403 and changes nothing; the role that may, succeeds."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse

from webapp.documents.models import Document
from webapp.workspaces.models import Membership, Workspace

pytestmark = pytest.mark.security

RANK = {"viewer": 0, "editor": 1, "owner": 2}


def _upload(name="new.txt"):
    f = io.BytesIO(b"A fresh agreement between two parties, signed today.")
    f.name = name
    return f


def _target_membership(world):
    return Membership.objects.get(workspace=world.workspace, user=world.viewer)


# name -> (least role, how to send it, how to tell it happened)
WRITES = {
    "page upload": ("editor",
                    lambda c, w: c.post(reverse("documents:upload", args=[w.workspace.id]), {"files": [_upload()]}),
                    lambda w: Document.objects.filter(workspace=w.workspace, original_name="new.txt").exists()),
    "api upload": ("editor",
                   lambda c, w: c.post(reverse("api:document-list", args=[w.workspace.id]), {"files": [_upload()]}),
                   lambda w: Document.objects.filter(workspace=w.workspace, original_name="new.txt").exists()),
    "page delete document": ("editor",
                             lambda c, w: c.post(reverse("documents:delete", args=[w.document.id])),
                             lambda w: not Document.objects.filter(pk=w.document.pk).exists()),
    "api delete document": ("editor",
                            lambda c, w: c.delete(reverse("api:document-detail", args=[w.document.id])),
                            lambda w: not Document.objects.filter(pk=w.document.pk).exists()),
    "page password": ("editor",
                      lambda c, w: c.post(reverse("documents:password", args=[w.document.id]), {"password": "x"}),
                      None),
    "api password": ("editor",
                     lambda c, w: c.post(reverse("api:document-password", args=[w.document.id]), {"password": "x"}),
                     None),
    "page invite": ("owner",
                    lambda c, w: c.post(reverse("workspaces:members", args=[w.workspace.id]),
                                        {"email": "new@example.com", "role": "viewer"}),
                    lambda w: w.workspace.invitations.filter(email="new@example.com").exists()),
    "api invite": ("owner",
                   lambda c, w: c.post(reverse("api:invitation-create", args=[w.workspace.id]),
                                       {"email": "new@example.com", "role": "viewer"}),
                   lambda w: w.workspace.invitations.filter(email="new@example.com").exists()),
    "page role change": ("owner",
                         lambda c, w: c.post(reverse("workspaces:member-role", args=[w.workspace.id, _target_membership(w).id]),
                                             {"role": "editor"}),
                         lambda w: _target_membership(w).role == "editor"),
    "api role change": ("owner",
                        lambda c, w: c.patch(reverse("api:member-detail", args=[w.workspace.id, _target_membership(w).id]),
                                             json.dumps({"role": "editor"}), content_type="application/json"),
                        lambda w: _target_membership(w).role == "editor"),
    "page remove member": ("owner",
                           lambda c, w: c.post(reverse("workspaces:member-remove", args=[w.workspace.id, _target_membership(w).id])),
                           lambda w: not Membership.objects.filter(workspace=w.workspace, user=w.viewer).exists()),
    "api remove member": ("owner",
                          lambda c, w: c.delete(reverse("api:member-detail", args=[w.workspace.id, _target_membership(w).id])),
                          lambda w: not Membership.objects.filter(workspace=w.workspace, user=w.viewer).exists()),
    "page delete workspace": ("owner",
                              lambda c, w: c.post(reverse("workspaces:delete", args=[w.workspace.id]),
                                                  {"confirm": "Acme contracts"}),
                              lambda w: not Workspace.objects.filter(pk=w.workspace.pk).exists()),
    "api delete workspace": ("owner",
                             lambda c, w: c.delete(reverse("api:workspace-detail", args=[w.workspace.id])),
                             lambda w: not Workspace.objects.filter(pk=w.workspace.pk).exists()),
    "page audit": ("owner", lambda c, w: c.get(reverse("audit:list", args=[w.workspace.id])), None),
    "page audit csv": ("owner", lambda c, w: c.get(reverse("audit:csv", args=[w.workspace.id])), None),
    "api audit": ("owner", lambda c, w: c.get(reverse("api:audit-list", args=[w.workspace.id])), None),
}


@pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_role_rights(world, client_for, api_for, write, role):
    least, send, happened = WRITES[write]
    user = {"viewer": world.viewer, "editor": world.editor, "owner": world.owner}[role]
    client = api_for(user) if write.startswith("api") else client_for(user)
    response = send(client, world)
    allowed = RANK[role] >= RANK[least]
    if not allowed:
        assert response.status_code == 403, (write, role, response.status_code)
        if happened is not None:
            assert not happened(world), (write, role)
        if write.startswith("api"):
            assert response.json()["error"]["status"] == 403
    else:
        assert response.status_code < 400, (write, role, response.status_code, response.content[:300])
        if happened is not None:
            assert happened(world), (write, role)

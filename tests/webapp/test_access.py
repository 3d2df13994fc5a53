"""A user of workspace A must not learn anything about workspace B: every URL answers 404."""

import io

import pytest
from django.urls import reverse

from tests import factories
from webapp.documents.models import Document


@pytest.fixture
def foreign(db):
    """Workspace B with a ready document and its report, owned by someone else."""
    from webapp.reports.models import Report

    workspace = factories.make_workspace(factories.make_user("bruno"), name="B team")
    document = factories.make_document(workspace, content=b"secret terms of B")
    Report.objects.create(document=document, kind="ingestion_facts", title="Facts", facts=[])
    return workspace, document


def _urls(workspace, document):
    return [
        ("get", reverse("workspaces:detail", args=[workspace.id])),
        ("get", reverse("workspaces:status", args=[workspace.id])),
        ("get", reverse("workspaces:members", args=[workspace.id])),
        ("post", reverse("workspaces:members", args=[workspace.id])),
        ("post", reverse("workspaces:leave", args=[workspace.id])),
        ("post", reverse("workspaces:member-remove", args=[workspace.id, 1])),
        ("post", reverse("workspaces:member-role", args=[workspace.id, 1])),
        ("post", reverse("documents:upload", args=[workspace.id])),
        ("get", reverse("documents:detail", args=[document.id])),
        ("get", reverse("documents:status", args=[document.id])),
        ("get", reverse("documents:file", args=[document.id])),
        ("post", reverse("documents:delete", args=[document.id])),
        ("get", reverse("reports:detail", args=[document.id])),
    ]


def test_member_of_a_gets_404_for_every_url_of_b(login, workspace, foreign):
    b_workspace, b_document = foreign
    client = login(workspace.created_by)
    for method, url in _urls(b_workspace, b_document):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
        assert b"secret terms" not in response.content
        assert b"B team" not in response.content
    assert Document.objects.filter(pk=b_document.pk).exists()


def test_unknown_ids_answer_the_same_404_as_foreign_ones(login, workspace, foreign):
    import uuid

    client = login(workspace.created_by)
    missing = client.get(reverse("documents:detail", args=[uuid.uuid4()]))
    foreign_doc = client.get(reverse("documents:detail", args=[foreign[1].id]))
    assert missing.status_code == foreign_doc.status_code == 404


def test_anonymous_user_is_sent_to_login_and_sees_nothing(client, foreign):
    b_workspace, b_document = foreign
    for method, url in _urls(b_workspace, b_document):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login")), url


def test_workspace_list_shows_only_own_workspaces(login, workspace, foreign):
    response = login(workspace.created_by).get(reverse("workspaces:list"))
    assert b"Acme contracts" in response.content
    assert b"B team" not in response.content


def test_viewer_cannot_upload(login, workspace):
    viewer = factories.make_user("vera")
    factories.add_member(workspace, viewer, "viewer")
    upload = io.BytesIO(b"A short plain text agreement.")
    upload.name = "agreement.txt"
    response = login(viewer).post(reverse("documents:upload", args=[workspace.id]), {"files": [upload]})
    assert response.status_code == 403
    assert not Document.objects.filter(workspace=workspace).exists()


def test_viewer_cannot_delete_but_can_read_and_download(login, workspace):
    viewer = factories.make_user("vera")
    factories.add_member(workspace, viewer, "viewer")
    document = factories.make_document(workspace, content=b"keep me")
    client = login(viewer)
    assert client.post(reverse("documents:delete", args=[document.id])).status_code == 403
    assert Document.objects.filter(pk=document.pk).exists()
    assert client.get(reverse("documents:detail", args=[document.id])).status_code == 200
    download = client.get(reverse("documents:file", args=[document.id]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"keep me"


def test_editor_can_delete_and_the_stored_file_goes_too(login, workspace, django_capture_on_commit_callbacks):
    editor = factories.make_user("eddie")
    factories.add_member(workspace, editor, "editor")
    document = factories.make_document(workspace, content=b"delete me")
    storage, name = document.file.storage, document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        response = login(editor).post(reverse("documents:delete", args=[document.id]))
    assert response.status_code == 302
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not storage.exists(name)


def test_viewer_cannot_manage_members(login, workspace):
    viewer = factories.make_user("vera")
    membership = factories.add_member(workspace, viewer, "viewer")
    client = login(viewer)
    response = client.post(reverse("workspaces:members", args=[workspace.id]), {"email": "x@example.com", "role": "owner"})
    assert response.status_code == 403
    owner_membership = workspace.memberships.get(user=workspace.created_by)
    client.post(reverse("workspaces:member-remove", args=[workspace.id, owner_membership.id]))
    client.post(reverse("workspaces:member-role", args=[workspace.id, membership.id]), {"role": "owner"})
    assert workspace.memberships.get(user=workspace.created_by).role == "owner"
    assert workspace.memberships.get(user=viewer).role == "viewer"


def test_original_file_is_served_as_an_attachment_never_inline(login, workspace):
    document = factories.make_document(
        workspace, content=b"<html><script>alert(1)</script></html>", original_name="page.html"
    )
    response = login(workspace.created_by).get(reverse("documents:file", args=[document.id]))
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from tests import factories
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {Action.READ, Action.EXPORT}),
        ("editor", {Action.READ, Action.EXPORT, Action.UPLOAD, Action.DELETE, Action.ANALYSE}),
        ("owner", set(Action)),
    ],
)
def test_each_role_allows_exactly_its_actions(role, allowed):
    assert {a for a in Action if permissions.role_allows(role, a)} == allowed


def test_no_role_allows_nothing():
    assert not any(permissions.role_allows(None, a) for a in Action)


def test_require_hides_foreign_workspace_as_404_and_refuses_low_role_with_403(workspace):
    stranger = factories.make_user()
    with pytest.raises(Http404):
        permissions.require(user=stranger, workspace=workspace, action=Action.READ)
    viewer = factories.make_user()
    factories.add_member(workspace, viewer, "viewer")
    assert permissions.require(user=viewer, workspace=workspace, action=Action.READ) == "viewer"
    with pytest.raises(PermissionDenied):
        permissions.require(user=viewer, workspace=workspace, action=Action.UPLOAD)


def test_visible_to_keeps_only_the_users_workspaces(workspace):
    other = factories.make_workspace(name="Other team")
    mine = factories.make_document(workspace, content=b"mine")
    factories.make_document(other, content=b"theirs")
    from webapp.documents.models import Document

    visible = permissions.visible_to(Document.objects.all(), user=workspace.created_by)
    assert list(visible) == [mine]

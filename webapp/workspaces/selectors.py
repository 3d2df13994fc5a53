"""Reads of workspaces that apply the access rules."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from webapp.workspaces import permissions
from webapp.workspaces.models import Invitation, Membership, Workspace


def workspace_list(*, user) -> QuerySet[Workspace]:
    return permissions.workspaces_visible_to(user=user).annotate(document_count=Count("documents", distinct=True))


def workspace_get(*, user, workspace_id) -> Workspace:
    """The workspace if `user` belongs to it; otherwise 404, whether or not it exists."""
    workspace = permissions.workspaces_visible_to(user=user).filter(pk=workspace_id).first()
    if workspace is None:
        raise Http404("No such workspace.")
    return workspace


def membership_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return workspace.memberships.select_related("user").order_by("user__username")


def invitation_pending_list(*, workspace: Workspace) -> QuerySet[Invitation]:
    return workspace.invitations.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())

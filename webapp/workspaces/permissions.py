"""The one place that decides who may do what in a workspace.

Views ask it, selectors filter through it. An object in a workspace the user does not belong to is
answered with 404, never 403, so that its existence does not leak; a member lacking the role for
an action gets 403 (they already know the workspace exists).
"""

from __future__ import annotations

import enum

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from webapp.workspaces.models import Membership, Role, Workspace


class Action(enum.Enum):
    READ = "read"
    EXPORT = "export"
    UPLOAD = "upload"
    DELETE = "delete"
    ANALYSE = "analyse"
    MANAGE_MEMBERS = "manage_members"
    VIEW_AUDIT = "view_audit"
    DELETE_WORKSPACE = "delete_workspace"


_ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ, Action.EXPORT}),
    Role.EDITOR: frozenset({Action.READ, Action.EXPORT, Action.UPLOAD, Action.DELETE, Action.ANALYSE}),
    Role.OWNER: frozenset(Action),
}


def role_allows(role: str | None, action: Action) -> bool:
    return role is not None and action in _ROLE_ACTIONS.get(role, frozenset())


def refusal_message(role: str, action: Action) -> str:
    """Who may do `action`, and what the member is: the 403's message on pages and in the API alike."""
    allowed = [f"{r}s" for r in Role.values if role_allows(r, action)]  # least role first: viewers, editors, owners
    who = " and ".join([", ".join(allowed[:-1]), allowed[-1]] if len(allowed) > 1 else allowed) or "nobody"
    article = "an" if role[:1] in "aeiou" else "a"
    return f"{who.capitalize()} may do this; you are {article} {role}."


def role_of(*, user, workspace: Workspace) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(workspace=workspace, user=user).values_list("role", flat=True).first()
    )


def can(*, user, workspace: Workspace, action: Action) -> bool:
    return role_allows(role_of(user=user, workspace=workspace), action)


def workspaces_visible_to(*, user) -> QuerySet[Workspace]:
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def visible_to(queryset: QuerySet, *, user, workspace_field: str = "workspace") -> QuerySet:
    """Narrow any queryset of workspace-owned rows to the workspaces `user` belongs to.

    Every selector that returns documents, reports or files goes through here.
    """
    if not user.is_authenticated:
        return queryset.none()
    return queryset.filter(**{f"{workspace_field}__memberships__user": user})


def require(*, user, workspace: Workspace, action: Action) -> str:
    """Return the user's role, or raise Http404 (not a member) / PermissionDenied (role too low)."""
    role = role_of(user=user, workspace=workspace)
    if role is None:
        raise Http404("No such workspace.")
    if not role_allows(role, action):
        raise PermissionDenied(refusal_message(role, action))
    return role

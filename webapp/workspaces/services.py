"""Every write to workspaces, memberships and invitations. Keyword-only, one transaction each."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.storage import files_delete_on_commit
from webapp.workspaces import permissions
from webapp.workspaces.models import Invitation, Membership, Role, Workspace
from webapp.workspaces.permissions import Action


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def workspace_create(*, user, name: str) -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationError("A workspace needs a name.")
    workspace = Workspace.objects.create(name=name, created_by=user)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    audit_record(action=AuditAction.WORKSPACE_CREATE, actor=user, workspace=workspace, target=workspace)
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, user) -> None:
    """Owners only: the workspace, every document's files and every row derived from them."""
    permissions.require(user=user, workspace=workspace, action=Action.DELETE_WORKSPACE)
    files = [f for document in workspace.documents.all().only("id", "file") for f in document.stored_files()]
    audit_record(action=AuditAction.WORKSPACE_DELETE, actor=user, workspace=workspace, target=workspace,
                 documents=len(files))
    workspace.delete()  # memberships, invitations, documents, pages and reports cascade
    files_delete_on_commit(files)


@dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    url: str


def member_invite(*, workspace: Workspace, inviter, email: str, role: str, base_url: str) -> SentInvitation:
    """Create an invitation and email its link. The raw token exists only in the email."""
    permissions.require(user=inviter, workspace=workspace, action=Action.MANAGE_MEMBERS)
    if role not in Role.values:
        raise ValidationError("Unknown role.")
    email = email.strip()
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of this workspace.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=_token_hash(token),
            invited_by=inviter,
            expires_at=timezone.now() + timedelta(days=settings.QUIRE_INVITE_DAYS),
        )
        audit_record(action=AuditAction.MEMBER_INVITE, actor=inviter, workspace=workspace, target=invitation,
                     target_label=email, role=role)
    url = base_url.rstrip("/") + reverse("workspaces:invitation-accept", args=[token])
    send_mail(
        subject=f"You are invited to the Quire workspace “{workspace.name}”",
        message=(
            f"{inviter.get_username()} invited you to join “{workspace.name}” as {role}.\n\n"
            f"Accept here (the link expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC):\n{url}\n"
        ),
        from_email=None,
        recipient_list=[email],
    )
    return SentInvitation(invitation=invitation, url=url)


class InvitationError(Exception):
    """An invitation link that cannot be used, with a message fit for the person holding it."""


def invitation_find(*, token: str) -> Invitation:
    invitation = Invitation.objects.select_related("workspace").filter(token_hash=_token_hash(token)).first()
    if invitation is None:
        raise InvitationError("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.")
    if invitation.expires_at <= timezone.now():
        raise InvitationError("This invitation has expired. Ask the workspace owner for a new one.")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> Workspace:
    invitation = invitation_find(token=token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.")
    if (user.email or "").strip().lower() != invitation.email.strip().lower():
        raise InvitationError(
            f"This invitation was sent to {invitation.email}. Log in with that address to accept it."
        )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(workspace=invitation.workspace, user=user, role=invitation.role)
        audit_record(action=AuditAction.MEMBER_JOIN, actor=user, workspace=invitation.workspace, target=membership,
                     target_label=user.email, role=invitation.role)
    except IntegrityError:
        pass  # Already a member: using the link again is harmless.
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return invitation.workspace


def _ensure_an_owner_remains(workspace: Workspace, leaving: Membership) -> None:
    if leaving.role != Role.OWNER:
        return
    other_owners = Membership.objects.filter(workspace=workspace, role=Role.OWNER).exclude(pk=leaving.pk)
    if not other_owners.exists():
        raise ValidationError("A workspace must keep at least one owner. Make someone else owner first.")


@transaction.atomic
def member_remove(*, workspace: Workspace, actor, membership_id: int) -> None:
    permissions.require(user=actor, workspace=workspace, action=Action.MANAGE_MEMBERS)
    membership = Membership.objects.select_for_update().filter(workspace=workspace, pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")  # another workspace's membership id: 404 like any foreign object
    _ensure_an_owner_remains(workspace, membership)
    audit_record(action=AuditAction.MEMBER_REMOVE, actor=actor, workspace=workspace, target=membership,
                 target_label=membership.user.email, role=membership.role)
    membership.delete()


@transaction.atomic
def member_role_change(*, workspace: Workspace, actor, membership_id: int, role: str) -> Membership:
    permissions.require(user=actor, workspace=workspace, action=Action.MANAGE_MEMBERS)
    if role not in Role.values:
        raise ValidationError("Unknown role.")
    membership = Membership.objects.select_for_update().filter(workspace=workspace, pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")  # another workspace's membership id: 404 like any foreign object
    if role != Role.OWNER:
        _ensure_an_owner_remains(workspace, membership)
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(action=AuditAction.MEMBER_ROLE, actor=actor, workspace=workspace, target=membership,
                 target_label=membership.user.email, before=previous, after=role)
    return membership


@transaction.atomic
def member_leave(*, workspace: Workspace, user) -> None:
    membership = Membership.objects.select_for_update().filter(workspace=workspace, user=user).first()
    if membership is None:
        raise PermissionDenied("You are not a member of this workspace.")
    _ensure_an_owner_remains(workspace, membership)
    audit_record(action=AuditAction.MEMBER_LEAVE, actor=user, workspace=workspace, target=membership,
                 target_label=user.email, role=membership.role)
    membership.delete()

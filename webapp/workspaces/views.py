"""Workspace pages: list and create, detail with documents, members and invitations, leave."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.documents.models import DocumentStatus
from webapp.documents.selectors import document_list, document_status_payload
from webapp.reports.playbooks import playbook_choices
from webapp.reports.selectors import document_list_for_page
from webapp.workspaces import permissions, selectors, services
from webapp.workspaces.forms import InviteForm, RoleChangeForm, WorkspaceCreateForm
from webapp.workspaces.models import Role
from webapp.workspaces.permissions import Action


@login_required
@require_http_methods(["GET", "POST"])
def workspace_list_view(request: HttpRequest) -> HttpResponse:
    form = WorkspaceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = services.workspace_create(user=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"Created workspace “{workspace.name}”.")
        return redirect("workspaces:detail", workspace_id=workspace.id)
    return render(
        request, "workspaces/list.html", {"workspaces": selectors.workspace_list(user=request.user), "form": form}
    )


@login_required
@require_GET
def workspace_detail_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    role = permissions.role_of(user=request.user, workspace=workspace)
    filters = {key: request.GET.get(key, "").strip()[:200] for key in ("status", "name", "playbook")}
    return render(
        request,
        "workspaces/detail.html",
        {
            "workspace": workspace,
            "role": role,
            "documents": document_list_for_page(user=request.user, workspace=workspace, **filters),
            "filters": filters, "statuses": DocumentStatus.choices,
            "playbooks": playbook_choices(workspace=workspace),
            "can_upload": permissions.role_allows(role, Action.UPLOAD),
            "can_analyse": permissions.role_allows(role, Action.ANALYSE),
            "can_manage": permissions.role_allows(role, Action.MANAGE_MEMBERS),
            "max_upload_bytes": settings.QUIRE_MAX_UPLOAD_BYTES,
        },
    )


@login_required
@require_GET
def workspace_status_view(request: HttpRequest, workspace_id) -> JsonResponse:
    """Live state of every document in the workspace, for the list to update itself."""
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    docs = document_list(user=request.user, workspace=workspace)
    response = JsonResponse({"documents": [document_status_payload(d) for d in docs]})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def workspace_members_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    role = permissions.role_of(user=request.user, workspace=workspace)
    can_manage = permissions.role_allows(role, Action.MANAGE_MEMBERS)
    invite_form = InviteForm(request.POST or None)
    if request.method == "POST":
        permissions.require(user=request.user, workspace=workspace, action=Action.MANAGE_MEMBERS)
        if invite_form.is_valid():
            try:
                sent = services.member_invite(
                    workspace=workspace,
                    inviter=request.user,
                    email=invite_form.cleaned_data["email"],
                    role=invite_form.cleaned_data["role"],
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, f"Invitation sent to {sent.invitation.email}.")
                return redirect("workspaces:members", workspace_id=workspace.id)
    return render(
        request,
        "workspaces/members.html",
        {
            "workspace": workspace,
            "role": role,
            "can_manage": can_manage,
            "memberships": selectors.membership_list(workspace=workspace),
            "invitations": selectors.invitation_pending_list(workspace=workspace) if can_manage else [],
            "invite_form": invite_form,
            "roles": Role.choices,
        },
    )


@login_required
@require_POST
def member_remove_view(request: HttpRequest, workspace_id, membership_id: int) -> HttpResponse:
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    try:
        services.member_remove(workspace=workspace, actor=request.user, membership_id=membership_id)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Member removed.")
    return redirect("workspaces:members", workspace_id=workspace.id)


@login_required
@require_POST
def member_role_view(request: HttpRequest, workspace_id, membership_id: int) -> HttpResponse:
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    form = RoleChangeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Unknown role.")
        services.member_role_change(
            workspace=workspace, actor=request.user, membership_id=membership_id, role=form.cleaned_data["role"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Role changed.")
    return redirect("workspaces:members", workspace_id=workspace.id)


@login_required
@require_POST
def workspace_leave_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    try:
        services.member_leave(workspace=workspace, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("workspaces:members", workspace_id=workspace.id)
    messages.success(request, f"You left “{workspace.name}”.")
    return redirect("workspaces:list")


@login_required
@require_POST
def workspace_delete_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    permissions.require(user=request.user, workspace=workspace, action=Action.DELETE_WORKSPACE)
    if request.POST.get("confirm", "").strip() != workspace.name:
        messages.error(request, "Type the workspace's name exactly to delete it.")
        return redirect("workspaces:members", workspace_id=workspace.id)
    name = workspace.name
    services.workspace_delete(workspace=workspace, user=request.user)
    messages.success(request, f"Deleted workspace “{name}” and all its documents.")
    return redirect("workspaces:list")


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        invitation = services.invitation_find(token=token)
        if request.method == "POST":
            workspace = services.invitation_accept(token=token, user=request.user)
            messages.success(request, f"You joined “{workspace.name}”.")
            return redirect("workspaces:detail", workspace_id=workspace.id)
    except services.InvitationError as error:
        return render(request, "workspaces/invitation.html", {"error": str(error)}, status=410)
    return render(request, "workspaces/invitation.html", {"invitation": invitation})

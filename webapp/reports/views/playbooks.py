"""Pages where a workspace's editors see and change the playbooks its analyses run."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from analysis.playbooks import PlaybookError
from webapp.reports import playbooks
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action
from webapp.workspaces.selectors import workspace_get


@login_required
@require_http_methods(["GET", "POST"])
def playbook_list_view(request: HttpRequest, workspace_id) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    role = permissions.require(user=request.user, workspace=workspace, action=Action.READ)
    form = {"name": "", "title": "", "questions": ""}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        try:
            saved = playbooks.playbook_save_questions(workspace=workspace, user=request.user, name=form["name"],
                                                      title=form["title"], questions_text=form["questions"])
        except PlaybookError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Saved “{saved.definition['title']}” (version {saved.version}).")
            return redirect("reports:playbooks", workspace_id=workspace.id)
    return render(request, "reports/playbooks.html", {
        "workspace": workspace, "choices": playbooks.playbook_choices(workspace=workspace), "form": form,
        "can_edit": permissions.role_allows(role, Action.ANALYSE)})


@login_required
@require_http_methods(["GET", "POST"])
def playbook_edit_view(request: HttpRequest, workspace_id, name: str) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    role = permissions.require(user=request.user, workspace=workspace, action=Action.READ)
    if name not in {c.name for c in playbooks.playbook_choices(workspace=workspace)}:
        raise Http404("No such playbook.")
    definition = playbooks.playbook_definition_json(workspace=workspace, name=name)
    status = 200
    if request.method == "POST":
        definition = request.POST.get("definition", "")
        try:
            saved = playbooks.playbook_save(workspace=workspace, user=request.user, name=name, definition_json=definition)
        except PlaybookError as error:
            messages.error(request, error.message)
            status = 400  # refused: the editor again, with the reason and what was typed
        else:
            messages.success(request, f"Saved “{saved.definition['title']}” (version {saved.version}).")
            return redirect("reports:playbook_edit", workspace_id=workspace.id, name=name)
    return render(request, "reports/playbook_edit.html", {
        "workspace": workspace, "name": name, "definition": definition,
        "choice": next(c for c in playbooks.playbook_choices(workspace=workspace) if c.name == name),
        "can_edit": permissions.role_allows(role, Action.ANALYSE)}, status=status)


@login_required
@require_POST
def playbook_reset_view(request: HttpRequest, workspace_id, name: str) -> HttpResponse:
    workspace = workspace_get(user=request.user, workspace_id=workspace_id)
    playbooks.playbook_reset(workspace=workspace, user=request.user, name=name)
    messages.success(request, "The workspace's copy is gone.")
    return redirect("reports:playbooks", workspace_id=workspace.id)

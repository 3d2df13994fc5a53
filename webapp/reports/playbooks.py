"""Which playbooks a workspace can run, and editors' changes to them.

The built-in playbooks live as data in analysis/playbooks; a workspace may save its own copy of one under the
same name (which then replaces it for that workspace) or a list of its own questions. Every save is checked by
analysis.playbooks.from_dict, so a bad edit is refused with its reason and never reaches an analysis.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.db import transaction

from analysis import playbooks as builtin
from analysis.playbooks import Playbook, PlaybookError
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.json_input import JsonTooDeepError, json_loads
from webapp.reports.models import WorkspacePlaybook
from webapp.workspaces import permissions
from webapp.workspaces.models import Workspace
from webapp.workspaces.permissions import Action

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_DEFINITION_BYTES = 200_000


@dataclass(frozen=True)
class PlaybookChoice:
    name: str
    title: str
    version: int
    edited: bool  # the workspace's own copy or its own questions, not the built-in as shipped


def playbook_choices(*, workspace: Workspace) -> list[PlaybookChoice]:
    own = {p.name: p for p in WorkspacePlaybook.objects.filter(workspace=workspace)}
    choices = []
    for name in builtin.BUILT_IN:
        if name in own:
            row = own.pop(name)
            choices.append(PlaybookChoice(name, row.definition["title"], row.version, True))
        else:
            shipped = builtin.load(name)
            choices.append(PlaybookChoice(name, shipped.title, shipped.version, False))
    choices.extend(PlaybookChoice(row.name, row.definition["title"], row.version, True) for row in own.values())
    return choices


def playbook_for_workspace(*, workspace: Workspace, name: str) -> Playbook:
    """The playbook `name` as this workspace runs it: its own copy if it saved one, else the built-in."""
    row = WorkspacePlaybook.objects.filter(workspace=workspace, name=name).first()
    if row is not None:
        return builtin.from_dict({**row.definition, "name": row.name, "version": row.version})
    return builtin.load(name)  # PlaybookError for an unknown name


def playbook_save(*, workspace: Workspace, user, name: str, definition_json: str) -> WorkspacePlaybook:
    """Save an editor's JSON for playbook `name` (a built-in's name makes a workspace copy of it)."""
    permissions.require(user=user, workspace=workspace, action=Action.ANALYSE)
    name = (name or "").strip().lower()
    if not _NAME.match(name):
        raise PlaybookError("A playbook name is 1-64 lowercase letters, digits, '-' or '_'.")
    if len(definition_json.encode()) > MAX_DEFINITION_BYTES:
        raise PlaybookError(f"A playbook is at most {MAX_DEFINITION_BYTES // 1000} KB of JSON.")
    try:
        data = json_loads(definition_json)
    except json.JSONDecodeError as error:
        raise PlaybookError(f"The playbook is not valid JSON ({error.msg}, line {error.lineno}).") from None
    except JsonTooDeepError as error:
        raise PlaybookError(f"The playbook's JSON is nested deeper than {error.limit} levels.") from None
    if not isinstance(data, dict):
        raise PlaybookError("A playbook must be a JSON object.")
    checked = builtin.from_dict({**data, "name": name, "version": 1})
    return _store(workspace=workspace, user=user, playbook=checked)


def playbook_save_questions(*, workspace: Workspace, user, name: str, title: str, questions_text: str) -> WorkspacePlaybook:
    """A workspace's own questions, one per line, as a custom playbook."""
    permissions.require(user=user, workspace=workspace, action=Action.ANALYSE)
    name = (name or "").strip().lower()
    if not _NAME.match(name) or name in builtin.BUILT_IN:
        raise PlaybookError("Name the question list with 1-64 lowercase letters, digits, '-' or '_' "
                            f"(not {' or '.join(builtin.BUILT_IN)}).")
    checked = builtin.custom(questions_text.splitlines(), title=(title or "").strip()[:200] or "Custom questions")
    checked = builtin.from_dict({**checked.as_dict(), "name": name})
    return _store(workspace=workspace, user=user, playbook=checked)


def playbook_reset(*, workspace: Workspace, user, name: str) -> None:
    """Drop the workspace's copy: a built-in goes back to the shipped version, own questions are gone."""
    permissions.require(user=user, workspace=workspace, action=Action.ANALYSE)
    deleted, _ = WorkspacePlaybook.objects.filter(workspace=workspace, name=name).delete()
    if deleted:
        audit_record(action=AuditAction.PLAYBOOK_CHANGE, actor=user, workspace=workspace, target_type="playbook",
                     target_id=name, target_label=name, change="reset")


def playbook_definition_json(*, workspace: Workspace, name: str) -> str:
    """What the editor shows: the playbook as it runs now, pretty-printed, without name and version (not editable)."""
    data = playbook_for_workspace(workspace=workspace, name=name).as_dict()
    data.pop("name"), data.pop("version")
    return json.dumps(data, indent=2, ensure_ascii=False)


def _store(*, workspace: Workspace, user, playbook: Playbook) -> WorkspacePlaybook:
    definition = playbook.as_dict()
    definition.pop("version")
    with transaction.atomic():
        row = WorkspacePlaybook.objects.select_for_update().filter(workspace=workspace, name=playbook.name).first()
        if row is None:
            # A first edit of a built-in continues its numbering, so "contract v2" is the workspace's first change.
            shipped = builtin.load(playbook.name).version if playbook.name in builtin.BUILT_IN else 0
            row = WorkspacePlaybook(workspace=workspace, name=playbook.name, version=shipped + 1)
        elif row.definition != definition:
            row.version += 1
        row.definition, row.updated_by = definition, user
        row.save()
    audit_record(action=AuditAction.PLAYBOOK_CHANGE, actor=user, workspace=workspace, target_type="playbook",
                 target_id=playbook.name, target_label=playbook.title, version=row.version)
    return row

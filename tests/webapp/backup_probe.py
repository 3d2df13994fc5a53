"""One snapshot of a workspace, taken by the tests of the original and of its restored copy: the rows of every kind,
the stored files' hashes, the audit trail, and each document's report page and exports (Markdown, JSON, CSV) as a
member sees them, with ids in URLs and the moment of export normalised.

Run as `python -m tests.webapp.backup_probe ARCHIVE OWNER USERS_JSON OUT_JSON` against a fresh database, it creates the
people named in USERS_JSON, restores ARCHIVE with `manage.py workspace_import --owner OWNER` and writes the restored
workspace's snapshot (and the command's output) to OUT_JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+(")')
# Integer ids the report page puts in URLs and in the attributes that link a passage to its quote.
ATTRIBUTE = re.compile(r'\b(href|action|id|data-key|data-keys|data-findings)="([^"]*)"')
INT_IN_ATTRIBUTE = re.compile(r"(/f/|\bfinding-)(\d+)|\b(a)(\d+)\b")
EXPORTED_AT = re.compile(r'("exported_at": ")[^"]+(")|(\*\*Exported:\*\* )\S+')
EXPORT_FORMATS = ("md", "json", "csv")


def counts(workspace) -> dict[str, int]:
    """Rows of every kind the workspace holds, each counted by its own query (not through the code under test)."""
    from webapp.obligations.models import Obligation
    from webapp.reports.models import Analysis, Anchor, Finding, FindingComment, FirstPassCell, FollowUp, Report
    from webapp.tables.models import BatchRun
    from webapp.documents.models import Document, DocumentPage
    from webapp.workspaces.models import Membership, Workspace

    findings = Finding.objects.filter(analysis__document__workspace=workspace)
    return {
        "workspaces": Workspace.objects.filter(pk=workspace.pk).count(),
        "memberships": Membership.objects.filter(workspace=workspace).count(),
        "documents": Document.objects.filter(workspace=workspace).count(),
        "pages": DocumentPage.objects.filter(document__workspace=workspace).count(),
        "reports": Report.objects.filter(document__workspace=workspace).count(),
        "first pass cells": FirstPassCell.objects.filter(report__document__workspace=workspace).count(),
        "analyses": Analysis.objects.filter(document__workspace=workspace).count(),
        "findings": findings.count(),
        "reviewed findings": findings.filter(reviewed_by__isnull=False).count(),
        "assigned findings": findings.filter(assigned_to__isnull=False).count(),
        "comments": FindingComment.objects.filter(finding__analysis__document__workspace=workspace).count(),
        "attributed comments": FindingComment.objects.filter(finding__analysis__document__workspace=workspace,
                                                             author__isnull=False).count(),
        "follow-ups": FollowUp.objects.filter(document__workspace=workspace).count(),
        "finding anchors": Anchor.objects.filter(finding__analysis__document__workspace=workspace).count(),
        "follow-up anchors": Anchor.objects.filter(followup__document__workspace=workspace).count(),
        "playbooks": workspace.playbooks.count(),
        "obligations": Obligation.objects.filter(document__workspace=workspace).count(),
        "batch runs": BatchRun.objects.filter(workspace=workspace).count(),
        "batch run analyses": BatchRun.analyses.through.objects.filter(batchrun__workspace=workspace).count(),
    }


def members(workspace) -> list[list[str]]:
    return sorted([m.user.username, m.role] for m in workspace.memberships.select_related("user"))


def audit_rows(workspace) -> list[list]:
    """The trail as a reader sees it (times, who, what, which object by name), oldest first."""
    from webapp.audit.models import AuditEvent

    return [[e.at.isoformat(), e.action, e.actor_label, e.object_type, e.object_label, e.workspace_label]
            for e in AuditEvent.objects.filter(workspace=workspace).order_by("at", "pk")]


def stored_files(workspace) -> dict[str, str]:
    """Each document's name -> the SHA-256 of the bytes storage holds for it."""
    found = {}
    for document in workspace.documents.all():
        with document.file.open("rb") as handle:
            found[document.original_name] = hashlib.sha256(handle.read()).hexdigest()
    return found


def normalise(text: str) -> str:
    """Ids numbered by first appearance (new keys differ, their order does not), per-request CSRF tokens and the
    moment of export blanked."""
    numbering: dict[str, str] = {}

    def number(kind: str, value: str) -> str:
        seen = sum(key.startswith(f"{kind}:") for key in numbering)
        return numbering.setdefault(f"{kind}:{value}", f"<{kind}{seen + 1}>")

    def attribute(match: re.Match) -> str:
        def one(found: re.Match) -> str:
            if found.group(1):
                return f"{found.group(1)}{number('finding', found.group(2))}"
            return f"{found.group(3)}{number('anchor', found.group(4))}"
        return f'{match.group(1)}="{INT_IN_ATTRIBUTE.sub(one, match.group(2))}"'

    text = CSRF.sub(r"\1<csrf>\2", text)
    text = EXPORTED_AT.sub(lambda m: f"{m.group(1)}<now>{m.group(2)}" if m.group(1) else f"{m.group(3)}<now>", text)
    text = UUID.sub(lambda m: number("id", m.group(0)), text)
    return ATTRIBUTE.sub(attribute, text)


def pages_and_exports(workspace, user) -> dict[str, str]:
    """What a member reads: each document's report page and, for each finished analysis, its exports."""
    from django.test import Client
    from django.urls import reverse

    from webapp.reports.models import Analysis

    client = Client()
    client.force_login(user)
    seen = {}
    for document in workspace.documents.order_by("original_name"):
        response = client.get(reverse("reports:detail", args=[document.id]))
        assert response.status_code == 200, response.status_code
        seen[f"{document.original_name} page"] = normalise(response.content.decode())
        for analysis in Analysis.objects.filter(document=document, status="ready").order_by("created_at"):
            for fmt in EXPORT_FORMATS:
                response = client.get(reverse("reports:analysis_export", args=[analysis.id, fmt]))
                assert response.status_code == 200, response.status_code
                seen[f"{document.original_name} {analysis.playbook_name} {fmt}"] = normalise(response.content.decode())
    return seen


def snapshot(workspace, user) -> dict:
    """Counts and the trail first: reading the pages adds to the trail."""
    return {"counts": counts(workspace), "members": members(workspace), "audit": audit_rows(workspace),
            "files": stored_files(workspace), "read": pages_and_exports(workspace, user)}


def main(archive: str, owner: str, users_json: str, out_json: str) -> None:
    import io

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from webapp.workspaces.models import Workspace

    User = get_user_model()
    for person in json.loads(users_json):
        if not User.objects.filter(username=person["username"]).exists():
            User.objects.create_user(username=person["username"], email=person["email"], password=None)
    output = io.StringIO()
    call_command("workspace_import", archive, "--owner", owner, stdout=output)
    workspace = Workspace.objects.get(pk=re.search(r" as ([0-9a-f-]{36}):", output.getvalue()).group(1))
    result = {"command": output.getvalue(), "snapshot": snapshot(workspace, User.objects.get(username=owner))}
    with open(out_json, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(*sys.argv[1:5])

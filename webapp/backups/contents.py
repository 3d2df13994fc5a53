"""What a workspace archive carries: every model that hangs off a workspace, in the order rows can be written (each
after the rows it points at), with the lookup from the model to its workspace; and what is left out, with why.
tests/webapp/test_backups.py fails when a new model reaches a workspace without being named in one list or the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from webapp.audit.models import AuditEvent
from webapp.documents.models import Document, DocumentPage
from webapp.obligations.models import CalendarFeed, Obligation
from webapp.reports.models import (
    Analysis,
    Anchor,
    Finding,
    FindingComment,
    FirstPassCell,
    FollowUp,
    Report,
    WorkspacePlaybook,
)
from webapp.tables.models import BatchRun, TableExport
from webapp.workspaces.models import Invitation, Membership, Workspace


@dataclass(frozen=True)
class Kind:
    """One carried model: its rows are those whose `paths` (any of them) lead to the workspace."""

    model: type[models.Model]
    paths: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def rows(self, workspace: Workspace) -> models.QuerySet:
        where = models.Q()
        for path in self.paths:
            where |= models.Q(**{path: workspace}) if path else models.Q(pk=workspace.pk)
        # In the order the rows were made (integer keys are), so that new integer keys keep the order of the old ones:
        # ties in a page's ordering fall back on it.
        made = ("created_at",) if not isinstance(self.model._meta.pk, models.AutoField) and any(
            f.name == "created_at" for f in self.model._meta.concrete_fields) else ()
        return self.model._base_manager.filter(where).order_by(*made, "pk")


CARRIED: tuple[Kind, ...] = (
    Kind(Workspace, ("",)),
    Kind(Membership, ("workspace",)),
    Kind(Document, ("workspace",)),
    Kind(DocumentPage, ("document__workspace",)),
    Kind(Report, ("document__workspace",)),
    Kind(FirstPassCell, ("report__document__workspace",)),
    Kind(Analysis, ("document__workspace",)),
    Kind(Finding, ("analysis__document__workspace",)),
    Kind(FindingComment, ("finding__analysis__document__workspace",)),
    Kind(FollowUp, ("document__workspace",)),
    Kind(Anchor, ("finding__analysis__document__workspace", "followup__document__workspace")),
    Kind(WorkspacePlaybook, ("workspace",)),
    Kind(Obligation, ("document__workspace",)),
    Kind(BatchRun, ("workspace",)),
    Kind(AuditEvent, ("workspace",)),
)

BY_LABEL: dict[str, Kind] = {kind.label: kind for kind in CARRIED}

# Rows that name a workspace but are not carried. Each is either a secret bound to the old instance (its link or
# token would not work elsewhere, and a second import would collide on its unique hash) or a file a member can
# make again in a click; the export's manifest counts them under "left_out", and the import says so.
LEFT_OUT: dict[type[models.Model], str] = {
    Invitation: "invitation links carry a token for the instance that sent them; invite again after the restore",
    CalendarFeed: "a calendar feed is a member's private token for the old instance; members make a new feed",
    TableExport: "a table export is a member's download of the moment; export the table again",
}


def left_out_rows(workspace: Workspace) -> dict[str, dict]:
    """Counts and reasons of what the archive does not carry, for the manifest."""
    counts = {
        Invitation: Invitation.objects.filter(workspace=workspace).count(),
        CalendarFeed: CalendarFeed.objects.filter(workspace=workspace).count(),
        TableExport: TableExport.objects.filter(workspace=workspace).count(),
    }
    return {model._meta.label_lower: {"count": counts[model], "why": why} for model, why in LEFT_OUT.items()}


# Files kept outside storage that an archive does not carry, because Quire draws them again on demand: page images
# (webapp/documents/page_images.py), the report page's drawn parts and the engine's saved document caches.
NOT_FILES = "page images, drawn report parts and engine prefix caches are caches, drawn again on first use"


def links(model: type[models.Model]) -> list[models.ManyToManyField]:
    """Many-to-many fields whose rows only the field holds; one with its own model (workspace members, through
    Membership) is carried as that model's rows."""
    return [f for f in model._meta.many_to_many if f.remote_field.through._meta.auto_created]

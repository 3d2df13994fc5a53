"""`python manage.py workspace_export WORKSPACE_ID --out FILE`: one workspace's archive
(webapp/backups/exporting.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.backups.archive import ArchiveError
from webapp.backups.exporting import workspace_export
from webapp.workspaces.models import Workspace


class Command(BaseCommand):
    help = "Write a workspace's archive: its documents, files, reports, reviews, playbooks and audit trail."

    def add_arguments(self, parser) -> None:
        parser.add_argument("workspace_id", help="the workspace's id (in its URLs)")
        parser.add_argument("--out", required=True, help="the archive to write (a .zip; replaced if it exists)")

    def handle(self, *args, workspace_id: str, out: str, **options) -> None:
        try:
            workspace = Workspace.objects.get(pk=uuid.UUID(workspace_id))
        except (ValueError, Workspace.DoesNotExist):
            raise CommandError(f"No workspace with id {workspace_id!r}.") from None
        try:
            result = workspace_export(workspace=workspace, out=Path(out))
        except ArchiveError as error:
            raise CommandError(error.message) from None
        rows = sum(n for label, n in result.counts.items() if label.count(".") == 1)
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {result.path} ({result.size} bytes): workspace “{workspace.name}”, "
            f"{result.counts.get('documents.document', 0)} documents, {rows} rows, {result.files} files."))
        if result.in_flight:
            self.stdout.write(self.style.WARNING(
                f"{result.in_flight} documents were still queued or being read: a restore has them in that state and "
                "does not read them again. Export again once they are ready for a copy that needs nothing more."))

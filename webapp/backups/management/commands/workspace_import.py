"""`python manage.py workspace_import FILE --owner USERNAME`: restore an archive as a new workspace
(webapp/backups/importing.py). A damaged, foreign or newer archive is refused whole, with the reason."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from webapp.backups.archive import ArchiveError
from webapp.backups.importing import workspace_import


class Command(BaseCommand):
    help = "Restore a workspace archive as a new workspace, owned by --owner."

    def add_arguments(self, parser) -> None:
        parser.add_argument("archive", help="a file written by workspace_export")
        parser.add_argument("--owner", required=True, help="the username who owns the restored workspace")
        parser.add_argument("--owner-only", action="store_true",
                            help="make no one else a member, even where the archive's members have accounts here")

    def handle(self, *args, archive: str, owner: str, owner_only: bool = False, **options) -> None:
        User = get_user_model()
        try:
            owner_user = User._default_manager.get_by_natural_key(owner)
        except User.DoesNotExist:
            raise CommandError(f"No user named {owner!r} here; create the account first.") from None
        try:
            result = workspace_import(path=Path(archive), owner=owner_user, owner_only=owner_only)
        except ArchiveError as error:
            raise CommandError(error.message) from None
        workspace = result.workspace
        rows = sum(n for label, n in result.counts.items() if label.count(".") == 1)
        self.stdout.write(self.style.SUCCESS(
            f"Restored workspace “{workspace.name}” as {workspace.pk}: "
            f"{result.counts.get('documents.document', 0)} documents, {rows} rows."))
        self.stdout.write("Members: " + ", ".join(f"{name} ({role})" for name, role in sorted(result.members.items())))
        if result.unmatched:
            self.stdout.write("No account here for " + ", ".join(result.unmatched)
                              + ": not members, and the rows they wrote name no one.")
        if result.not_added:
            self.stdout.write("Not made members (--owner-only): " + ", ".join(result.not_added))
        left = [f"{n['count']} {label} ({n['why']})" for label, n in result.left_out.items()
                if isinstance(n, dict) and n.get("count")]
        if left:
            self.stdout.write("Not in the archive: " + "; ".join(left))

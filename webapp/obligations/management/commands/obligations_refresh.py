"""`python manage.py obligations_refresh [--workspace ID] [--all]`: derive the dated obligations of ready documents
again. Without --all only documents with none stored are read: those uploaded before this version stored obligations
(the calendar would otherwise show nothing for them). With --all every ready document is read again, as after a
change to the rules. Each document is its own transaction; one that fails is reported and the rest go on."""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from webapp.documents.models import Document, DocumentStatus
from webapp.obligations.models import Obligation
from webapp.obligations.services import obligations_refresh


class Command(BaseCommand):
    help = "Derive the dated obligations of ready documents again (those with none, or --all)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workspace", help="only this workspace's documents (its id)")
        parser.add_argument("--all", action="store_true", help="read every ready document again, not only those with none")

    def handle(self, *args, workspace=None, all=False, **options) -> None:
        documents = Document.objects.filter(status=DocumentStatus.READY).order_by("created_at")
        if workspace:
            try:
                documents = documents.filter(workspace_id=uuid.UUID(workspace))
            except ValueError:
                raise CommandError(f"Not a workspace id: {workspace}") from None
        if not all:
            documents = documents.exclude(pk__in=Obligation.objects.values("document_id"))
        total = documents.count()
        stored = failed = 0
        for n, document in enumerate(documents.iterator(), start=1):
            try:
                stored += obligations_refresh(document=document)
            except Exception as error:  # noqa: BLE001 - one unreadable document must not stop the others
                failed += 1
                self.stderr.write(f"{document.pk} {document.original_name}: {type(error).__name__}: {error}")
            if n % 25 == 0 or n == total:
                self.stdout.write(f"{n}/{total} documents read")
        self.stdout.write(self.style.SUCCESS(f"{total - failed} documents read, {stored} obligations stored, {failed} failed"))

"""The checks to run after restoring an instance from a database dump and a copy of its storage folder
(docs/backup.md): the schema is at this code's migrations, and every stored original is there with the checksum its
row recorded. It only reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from webapp.backups.archive import CHUNK
from webapp.documents.models import Document

@dataclass(frozen=True)
class RestoreCheck:
    unapplied: tuple[str, ...]  # migrations this code has that the database has not run
    originals: int  # documents whose original was read and matched
    problems: tuple[str, ...]  # originals missing from storage or changed

    @property
    def ok(self) -> bool:
        return not self.unapplied and not self.problems


def restore_check() -> RestoreCheck:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    unapplied = tuple(f"{migration.app_label}.{migration.name}" for migration, _backwards in plan)
    matched, problems = 0, []
    for document in Document.objects.only("id", "file", "sha256").order_by("created_at").iterator():
        digest = hashlib.sha256()
        try:
            with document.file.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
        except (FileNotFoundError, OSError, ValueError):
            problems.append(f"document {document.pk}: {document.file.name or 'no file'} is missing from storage")
            continue
        if digest.hexdigest() != document.sha256:
            problems.append(f"document {document.pk}: {document.file.name} does not match its checksum")
        else:
            matched += 1
    return RestoreCheck(unapplied=unapplied, originals=matched, problems=tuple(problems))

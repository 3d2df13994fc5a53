"""Writing one workspace's archive: every carried row and stored file, read in one consistent snapshot of the
database. It never changes a row of the workspace (the export is only added to its audit trail)."""

from __future__ import annotations

import importlib.metadata
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.backups.archive import (
    FORMAT_NAME,
    FORMAT_VERSION,
    USERS_MEMBER,
    ArchiveError,
    ArchiveWriter,
    copy_into,
    data_member,
    file_member,
    migration_leaves,
    value_encode,
)
from webapp.backups.contents import CARRIED, NOT_FILES, Kind, left_out_rows, links
from webapp.documents.models import TERMINAL_STATUSES, Document
from webapp.workspaces.models import Membership, Role, Workspace


@dataclass(frozen=True)
class ExportResult:
    path: Path
    counts: dict[str, int]  # rows per model ("app.model"), and links per many-to-many field ("app.model.field")
    files: int
    size: int  # bytes of the archive
    in_flight: int  # documents not yet ready, failed or waiting for a password: restored in that state, not read again


def quire_version() -> str:
    try:
        return importlib.metadata.version("quire")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def workspace_export(*, workspace: Workspace, out: Path, actor_label: str = "") -> ExportResult:
    """Write `workspace`'s archive to `out` (replaced whole, or left as it was when the export fails)."""
    out = Path(out)
    if not out.parent.is_dir():
        raise ArchiveError(f"No folder {out.parent} to write the archive into.")
    with tempfile.TemporaryDirectory(prefix=".quire-export-", dir=out.parent) as workdir:
        writer = ArchiveWriter(Path(workdir))
        with _snapshot():
            rows = _Rows(writer)
            counts: dict[str, int] = {}
            for kind in CARRIED:
                counts.update(rows.write(kind, workspace))
            rows.write_users()
            in_flight = Document.objects.filter(workspace=workspace).exclude(status__in=TERMINAL_STATUSES).count()
            manifest = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "quire_version": quire_version(),
                "exported_at": timezone.now().isoformat(),
                "workspace": {"id": str(workspace.pk), "name": workspace.name},
                "owner": _owner_username(workspace),
                "migrations": migration_leaves(),
                "models": [kind.label for kind in CARRIED],
                "counts": counts,
                "files": rows.files,
                "left_out": left_out_rows(workspace),
                "not_carried": NOT_FILES,
            }
        size = writer.finish(manifest, out)
    audit_record(action=AuditAction.EXPORT, actor_label=actor_label or "manage.py workspace_export",
                 workspace=workspace, target=workspace, format="archive", what="workspace",
                 documents=counts.get("documents.document", 0))
    return ExportResult(path=out, counts=counts, files=rows.files, size=size, in_flight=in_flight)


@contextmanager
def _snapshot() -> Iterator[None]:
    """One transaction for every read; on PostgreSQL a repeatable-read one, so an archive never holds a finding
    without its analysis because a worker wrote in between."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _owner_username(workspace: Workspace) -> str | None:
    """Whose rows the importing owner takes over: the creator while still an owner, else the longest-standing owner."""
    owners = (Membership.objects.filter(workspace=workspace, role=Role.OWNER).select_related("user")
              .order_by("joined_at", "pk"))
    chosen = next((m for m in owners if m.user_id == workspace.created_by_id), None) or owners.first()
    return chosen.user.get_username() if chosen else None


class _Rows:
    """Writes the data members, copying stored files into the archive as their rows name them."""

    def __init__(self, writer: ArchiveWriter):
        self.writer = writer
        self.files = 0
        self.user_model = get_user_model()
        self.usernames: dict[object, str] = {}

    def write(self, kind: Kind, workspace: Workspace) -> dict[str, int]:
        meta = kind.model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        m2m = links(kind.model)
        counts = {kind.label: 0, **{f"{kind.label}.{f.name}": 0 for f in m2m}}
        with self.writer.member(data_member(kind.label)) as out:
            out.write(json.dumps({"model": kind.label})[:-1].encode() + b', "rows": [')
            for obj in kind.rows(workspace).iterator(chunk_size=500):
                row = {"id": _key(obj.pk), "fields": {}}
                for field in fields:
                    row["fields"][field.name] = self._value(kind, obj, field)
                for field in m2m:
                    targets = sorted(_key(pk) for pk in getattr(obj, field.name).values_list("pk", flat=True))
                    row["fields"][field.name] = targets
                    counts[f"{kind.label}.{field.name}"] += len(targets)
                out.write((b",\n" if counts[kind.label] else b"\n") + json.dumps(row, ensure_ascii=False).encode())
                counts[kind.label] += 1
            out.write(b"\n]}\n")
        return counts

    def _value(self, kind: Kind, obj: models.Model, field: models.Field):
        if field.is_relation:
            pk = getattr(obj, field.attname)
            if pk is None:
                return None
            return self._username(pk) if field.related_model is self.user_model else _key(pk)
        if isinstance(field, models.FileField):
            return self._file(kind, obj, field)
        return value_encode(field, obj)

    def _file(self, kind: Kind, obj: models.Model, field: models.FileField) -> str:
        stored = getattr(obj, field.attname)
        if not stored.name:
            return ""
        name = file_member(kind.label, obj.pk, field.name, stored.name)
        try:
            source = stored.storage.open(stored.name, "rb")
        except (FileNotFoundError, OSError) as error:
            raise ArchiveError(f"The stored file of {kind.label} {obj.pk} ({stored.name}) cannot be read: {error}. "
                               "No archive was written.") from None
        with source, self.writer.member(name) as out:
            copy_into(source, out)
        self.files += 1
        return name

    def _username(self, pk) -> str:
        if pk not in self.usernames:
            self.usernames[pk] = self.user_model._default_manager.get(pk=pk).get_username()
        return self.usernames[pk]

    def write_users(self) -> None:
        """Every person a row names, by username, with what a restore needs to recognise them (never a password)."""
        users = self.user_model._default_manager.filter(pk__in=list(self.usernames)).order_by("pk")
        rows = [{"username": u.get_username(), "email": getattr(u, "email", ""),
                 "first_name": getattr(u, "first_name", ""), "last_name": getattr(u, "last_name", "")} for u in users]
        with self.writer.member(USERS_MEMBER) as out:
            out.write(json.dumps({"model": "users", "rows": rows}, ensure_ascii=False, indent=0).encode())


def _key(pk) -> str | int:
    return pk if isinstance(pk, int) else str(pk)

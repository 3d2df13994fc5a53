"""Restoring a workspace archive as a new workspace: every member checked and every row read and checked first, then
all rows written in one transaction with new keys and every reference remapped. It never writes a row from an
archive it has not verified whole, and a failed import leaves no row and no stored file behind."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.core.files import File
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from webapp.audit.models import AuditAction, AuditEvent
from webapp.audit.services import audit_record
from webapp.backups.archive import (
    FORMAT_VERSION,
    USERS_MEMBER,
    ArchiveError,
    VerifiedArchive,
    archive_verify,
    damaged,
    data_member,
    migrations_unknown,
    too_new,
    value_decode,
)
from webapp.backups.contents import BY_LABEL, CARRIED, Kind, links
from webapp.workspaces.models import Membership, Role, Workspace

# Steps that bring the data of an older archive format to the next one: UPGRADES[n] turns format n into n + 1,
# in place ({label: rows}). None yet: format 1 is the first.
UPGRADES: dict[int, Callable[[dict[str, list]], None]] = {}

ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}
MEMBERSHIP = Membership._meta.label_lower
AUDIT_EVENT = AuditEvent._meta.label_lower


@dataclass(frozen=True)
class ImportResult:
    workspace: Workspace
    counts: dict[str, int]  # rows written per model, and links per many-to-many field
    members: dict[str, str]  # username here -> role in the new workspace
    unmatched: tuple[str, ...]  # usernames the archive names that have no account here: not members, rows unattributed
    not_added: tuple[str, ...]  # accounts found here but not made members (--owner-only)
    left_out: dict[str, dict]  # what the export did not carry (manifest's left_out)
    ids: dict[str, dict[str, object]]  # label -> old key (as text) -> new key


@dataclass
class _Row:
    old: str
    values: dict[str, object] = field(default_factory=dict)  # attname -> Python value
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)  # attname -> (label, old key)
    users: dict[str, str] = field(default_factory=dict)  # attname -> username
    files: dict[str, Path] = field(default_factory=dict)  # field name -> verified copy
    links: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # m2m field name -> (label, old keys)


def workspace_import(*, path: Path, owner, owner_only: bool = False) -> ImportResult:
    """Restore the archive at `path` as a new workspace owned by `owner`. Members of the archive become members here
    when an account with their username exists (unless `owner_only`); the archive's owner's rows become `owner`'s."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="quire-import-") as workdir:
        archive = archive_verify(path, Path(workdir))
        rows, users = _read(archive, path)
        try:
            return _write(archive, rows, users, owner=owner, owner_only=owner_only, source=path.name)
        except (DatabaseError, ValidationError, SuspiciousOperation) as error:  # rolled back, its files removed
            raise ArchiveError(f"The rows of {path.name} do not fit this database ({type(error).__name__}: {error}). "
                               "Nothing was imported.") from error


# --- reading and checking: no writes ------------------------------------------------------------------------------

def _read(archive: VerifiedArchive, path: Path) -> tuple[dict[str, list[_Row]], dict[str, dict]]:
    manifest = archive.manifest
    if not all(isinstance(label, str) for label in manifest["models"]):
        raise damaged(path, "its manifest's list of models is malformed")
    unknown_models = [label for label in manifest["models"] if label not in BY_LABEL]
    if unknown_models:
        raise too_new(path, f"it holds rows of {', '.join(unknown_models)}, which this Quire does not know")
    newer = migrations_unknown(manifest["migrations"], {kind.model._meta.app_label for kind in CARRIED})
    if newer:
        raise too_new(path, f"its schema has migrations this Quire does not have ({', '.join(newer)})")
    raw: dict[str, list] = {}
    for label in manifest["models"]:
        member = archive.data.get(data_member(label))
        if not isinstance(member, dict) or member.get("model") != label or not isinstance(member.get("rows"), list):
            raise damaged(path, f"it has no readable rows of {label}")
        raw[label] = member["rows"]
    for version in range(manifest["format_version"], FORMAT_VERSION):
        UPGRADES[version](raw)

    users_member = archive.data.get(USERS_MEMBER)
    if not isinstance(users_member, dict) or not isinstance(users_member.get("rows"), list):
        raise damaged(path, "it has no list of users")
    users = {u["username"]: u for u in users_member["rows"]
             if isinstance(u, dict) and isinstance(u.get("username"), str)}

    rows: dict[str, list[_Row]] = {}
    for kind in CARRIED:
        rows[kind.label] = [_row(kind, item, archive, users, path) for item in raw.get(kind.label, [])]
        if len(rows[kind.label]) != manifest["counts"].get(kind.label, 0):
            raise damaged(path, f"it holds {len(rows[kind.label])} rows of {kind.label} where its manifest counts "
                                f"{manifest['counts'].get(kind.label)}")
    if len(rows[Workspace._meta.label_lower]) != 1:
        raise damaged(path, "it does not hold exactly one workspace")
    _check_references(rows, path)
    return rows, users


def _row(kind: Kind, item, archive: VerifiedArchive, users: dict, path: Path) -> _Row:
    meta = kind.model._meta
    if not (isinstance(item, dict) and isinstance(item.get("id"), (str, int)) and isinstance(item.get("fields"), dict)):
        raise damaged(path, f"a row of {kind.label} is malformed")
    row = _Row(old=str(item["id"]))
    stored = {f.name for f in meta.concrete_fields if not f.primary_key} | {f.name for f in links(kind.model)}
    for name, value in item["fields"].items():
        try:
            target = meta.get_field(name)
        except Exception:  # FieldDoesNotExist: the row is from a schema this Quire cannot hold
            raise too_new(path, f"it has a field {kind.label}.{name} that this Quire does not know") from None
        if name not in stored:
            raise damaged(path, f"{kind.label}.{name} is not a stored field")
        where = f"{kind.label} {row.old} {name}"
        if target.many_to_many:
            if not isinstance(value, list):
                raise damaged(path, f"{where} is not a list")
            row.links[name] = (target.related_model._meta.label_lower, [str(v) for v in value])
        elif target.is_relation:
            if value is None:
                row.values[target.attname] = None
            elif target.related_model is get_user_model():
                if not isinstance(value, str) or value not in users:
                    raise damaged(path, f"{where} names a user it does not list")
                row.users[target.attname] = value
            else:
                row.refs[target.attname] = (target.related_model._meta.label_lower, str(value))
        elif isinstance(target, models.FileField):
            if value:
                if not isinstance(value, str) or value not in archive.files:
                    raise damaged(path, f"{where} names a file it does not hold")
                row.files[name] = archive.files[value]
        else:
            try:
                row.values[target.attname] = value_decode(target, value)
            except (ValidationError, TypeError, ValueError) as error:
                raise damaged(path, f"{where} cannot be read ({error})") from None
    return row


def _check_references(rows: dict[str, list[_Row]], path: Path) -> None:
    """Every row points at rows the archive holds: none is written pointing at nothing, or at another workspace."""
    held = {label: {row.old for row in found} for label, found in rows.items()}
    for label, found in rows.items():
        for row in found:
            wanted = list(row.refs.values()) + [(t, old) for t, olds in row.links.values() for old in olds]
            for target, old in wanted:
                if old not in held.get(target, ()):
                    raise damaged(path, f"{label} {row.old} points at {target} {old}, which it does not hold")


# --- writing: one transaction -------------------------------------------------------------------------------------

def _write(archive: VerifiedArchive, rows: dict[str, list[_Row]], users: dict[str, dict], *, owner, owner_only: bool,
           source: str) -> ImportResult:
    user_map = _user_map(users, archive.manifest.get("owner"), owner)
    stored: list[tuple] = []  # (storage, name) of every file written, removed again if the transaction fails
    try:
        with transaction.atomic():
            writer = _Writer(user_map, stored)
            for kind in CARRIED:
                if kind.label == MEMBERSHIP:
                    members, not_added = writer.memberships(rows[MEMBERSHIP], owner=owner, owner_only=owner_only)
                elif kind.label == AUDIT_EVENT:
                    writer.audit_events(rows[AUDIT_EVENT])
                else:
                    writer.rows(kind, rows[kind.label])
            (new_pk,) = writer.ids[Workspace._meta.label_lower].values()
            workspace = Workspace.objects.get(pk=new_pk)
            counts = _counts_check(workspace, archive.manifest["counts"], len(members))
            audit_record(action=AuditAction.WORKSPACE_CREATE, actor=owner, workspace=workspace, target=workspace,
                         restored_from=source, exported_at=archive.manifest.get("exported_at", ""),
                         quire_version=archive.manifest.get("quire_version", ""))
    except BaseException:
        for storage, name in stored:
            storage.delete(name)
        raise
    unmatched = tuple(sorted(name for name, user in user_map.items() if user is None))
    return ImportResult(workspace=workspace, counts=counts, members=members, unmatched=unmatched,
                        not_added=tuple(not_added), left_out=archive.manifest.get("left_out", {}), ids=writer.ids)


def _user_map(users: dict[str, dict], archived_owner: str | None, owner) -> dict[str, object]:
    """Archive username -> account here: the archive's owner is `owner`; anyone else is the account with the same
    username, or None (no account is ever created)."""
    User = get_user_model()
    others = [name for name in users if name != archived_owner]
    found = {u.get_username(): u for u in User._default_manager.filter(**{f"{User.USERNAME_FIELD}__in": others})}
    mapped: dict[str, object] = {name: found.get(name) for name in others}
    if archived_owner:
        mapped[archived_owner] = owner
    return mapped


class _Writer:
    def __init__(self, user_map: dict[str, object], stored: list[tuple]):
        self.user_map = user_map
        self.stored = stored
        self.ids: dict[str, dict[str, object]] = {}
        self.owner = None

    def _build(self, kind: Kind, row: _Row) -> models.Model:
        obj = kind.model()  # a UUID key gets a new value from its default here
        for attname, value in row.values.items():
            setattr(obj, attname, value)
        for attname, (target, old) in row.refs.items():
            setattr(obj, attname, self.ids[target][old])
        for attname, username in row.users.items():
            user = self.user_map.get(username)
            setattr(obj, attname, user.pk if user is not None else None)
        if row.old.startswith("owner:"):
            obj.user = self.owner
        for name, copy in row.files.items():
            original = Path(copy)
            with original.open("rb") as handle:
                getattr(obj, name).save(f"restored{original.suffix}", File(handle), save=False)
            stored_file = getattr(obj, name)
            self.stored.append((stored_file.storage, stored_file.name))
        return obj

    def rows(self, kind: Kind, found: list[_Row]) -> None:
        ids = self.ids.setdefault(kind.label, {})
        objs = [self._build(kind, row) for row in found]
        if _bulk_safe(kind.model):
            kind.model._base_manager.bulk_create(objs, batch_size=500)
        else:
            for obj in objs:
                # raw: times are kept as the archive has them (auto_now and auto_now_add would set them to now),
                # as Django's own fixture loading does.
                obj.save_base(raw=True, force_insert=True)
        for row, obj in zip(found, objs):
            ids[row.old] = obj.pk
        for row, obj in zip(found, objs):
            for name, (target, olds) in row.links.items():
                getattr(obj, name).set([self.ids[target][old] for old in olds])

    def memberships(self, found: list[_Row], *, owner, owner_only: bool) -> tuple[dict[str, str], list[str]]:
        """One membership per account here, in the highest role any archived membership mapped to it had; the
        importing owner is an owner. Archived members without an account here are left out (ImportResult.unmatched)."""
        kind = BY_LABEL[MEMBERSHIP]
        chosen: dict[object, _Row] = {}
        not_added = []
        for row in found:
            user = self.user_map.get(row.users.get("user_id", ""))
            if user is None:
                continue
            if owner_only and user.pk != owner.pk:
                not_added.append(user.get_username())
                continue
            kept = chosen.get(user.pk)
            if kept is None or ROLE_RANK.get(row.values.get("role"), -1) > ROLE_RANK.get(kept.values.get("role"), -1):
                chosen[user.pk] = row
        if owner.pk not in chosen:  # the archive had no owner (or --owner was nobody in it): joins now
            workspace = next(iter(self.ids[Workspace._meta.label_lower]))
            chosen[owner.pk] = _Row(old=f"owner:{uuid.uuid4()}", values={"joined_at": timezone.now()},
                                    refs={"workspace_id": (Workspace._meta.label_lower, workspace)})
            self.owner = owner
        row = chosen[owner.pk]
        row.values["role"] = Role.OWNER
        ordered = sorted(chosen.values(), key=lambda r: (r.old.startswith("owner:"), _order(r.old)))
        self.rows(kind, ordered)
        members = {}
        for row in ordered:
            membership = Membership.objects.select_related("user").get(pk=self.ids[MEMBERSHIP][row.old])
            members[membership.user.get_username()] = membership.role
        return members, sorted(not_added)

    def audit_events(self, found: list[_Row]) -> None:
        """The trail as it was, its object ids and the ids in its details pointing at the new rows."""
        by_type = {kind.model._meta.model_name: kind.label for kind in CARRIED}
        new_of_uuid = {old: str(new) for label, olds in self.ids.items() for old, new in olds.items()
                       if isinstance(new, uuid.UUID)}
        for row in found:
            label = by_type.get(row.values.get("object_type"))
            old = row.values.get("object_id")
            if label and old in self.ids.get(label, {}):
                row.values["object_id"] = str(self.ids[label][old])
            row.values["detail"] = _remap_strings(row.values.get("detail"), new_of_uuid)
        self.rows(BY_LABEL[AUDIT_EVENT], found)


def _bulk_safe(model: type[models.Model]) -> bool:
    """Rows written in batches: only models whose saving sets no value of its own (no auto_now times), with keys the
    database hands back."""
    fields = model._meta.concrete_fields
    return (connection.features.can_return_rows_from_bulk_insert and not links(model)
            and not any(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields)
            and not any(isinstance(f, models.FileField) for f in fields))


def _order(old: str):
    return (0, int(old), "") if old.isdigit() else (1, 0, old)


def _remap_strings(value, mapping: dict[str, str]):
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [_remap_strings(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _remap_strings(v, mapping) for k, v in value.items()}
    return value


def _counts_check(workspace: Workspace, expected: dict[str, int], members: int) -> dict[str, int]:
    """Read back what was written, through the same lookups the export used: any difference rolls it all back."""
    counts: dict[str, int] = {}
    for kind in CARRIED:
        rows = kind.rows(workspace)
        counts[kind.label] = rows.count()
        for link in links(kind.model):
            through = link.remote_field.through
            counts[f"{kind.label}.{link.name}"] = through._base_manager.filter(
                **{f"{link.m2m_field_name()}__in": rows.values("pk")}).count()
    wanted = {**expected, MEMBERSHIP: members}
    wrong = {label: (counts.get(label, 0), n) for label, n in wanted.items() if counts.get(label, 0) != n}
    if wrong:
        raise ArchiveError("The restored rows do not add up to the archive's counts ("
                           + ", ".join(f"{label}: {got} of {n}" for label, (got, n) in sorted(wrong.items()))
                           + "). Nothing was imported.")
    return counts

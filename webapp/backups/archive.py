"""The workspace archive format, and the one check every archive passes before a single row is written.

A zip whose first member is manifest.json: the format's name and version, the Quire version and the migration leaf of
every app at export time, the rows counted per model, and the SHA-256 and size of every other member. Rows are JSON,
one member per model (data/<app>.<model>.json: {"model", "rows": [{"id": old key, "fields": {...}}]}, foreign keys as
the old keys they point at, users as usernames, times in full ISO 8601); stored files are under files/. This module
never touches the database.

An importer reads every format up to FORMAT_VERSION. A change to a carried model that an older archive cannot fill
from the new field's default bumps FORMAT_VERSION and adds an upgrade step (importing.UPGRADES).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from django.db import models

from webapp.errors import AppError

FORMAT_NAME = "quire-workspace-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
USERS_MEMBER = "data/users.json"
CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


class ArchiveError(AppError):
    """An archive refused, or one that could not be written; the message says which and why."""

    code = "archive_refused"


class ArchiveDamagedError(ArchiveError):
    code = "archive_damaged"


class ArchiveForeignError(ArchiveError):
    code = "archive_foreign"


class ArchiveTooNewError(ArchiveError):
    code = "archive_too_new"


def data_member(label: str) -> str:
    return f"data/{label}.json"


def file_member(label: str, pk, field: str, stored_name: str) -> str:
    suffix = PurePosixPath(stored_name).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 10 else ""
    return f"files/{label}/{pk}.{field}{suffix}"


def _safe_member_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (not path.is_absolute() and ".." not in path.parts and "\\" not in name and len(name) <= 255
            and path.parts[:1] in (("data",), ("files",)) and len(path.parts) >= 2)


# --- values -------------------------------------------------------------------------------------------------------

def value_encode(field: models.Field, obj: models.Model):
    """A field's value as JSON keeps it: JSON fields as they are, numbers, text and booleans as themselves, anything
    else (times, dates, UUIDs, addresses) as Django's own string form, times with their microseconds."""
    value = field.value_from_object(obj)
    if value is None or isinstance(field, models.JSONField) or isinstance(value, (bool, int, float, str)):
        return value
    return field.value_to_string(obj)


def value_decode(field: models.Field, value):
    if value is None or isinstance(field, models.JSONField):
        return value
    return field.to_python(value)


# --- writing ------------------------------------------------------------------------------------------------------

class _Hashing:
    """A file being written whose SHA-256 and size are kept as it grows."""

    def __init__(self, handle: BinaryIO):
        self.handle, self.sha256, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)


class ArchiveWriter:
    """Members are written to a working folder first (hashed as they are), so the manifest that lists their hashes
    can be the zip's first member."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.members: dict[str, dict] = {}
        self._paths: dict[str, Path] = {}
        self._next = 0

    @contextmanager
    def member(self, name: str) -> Iterator[_Hashing]:
        if name in self.members or not _safe_member_name(name):
            raise ArchiveError(f"Cannot write archive member {name!r}.")
        # Members nest (a row's file is written while its model's rows are), so each gets its own name up front.
        self._next += 1
        path = self.workdir / f"{self._next:06d}"
        with path.open("wb") as handle:
            out = _Hashing(handle)
            yield out
        self.members[name] = {"sha256": out.sha256.hexdigest(), "size": out.size}
        self._paths[name] = path

    def finish(self, manifest: dict, out: Path) -> int:
        """The zip at `out`, manifest first; written beside it and renamed, so `out` is never half an archive."""
        manifest = {**manifest, "members": self.members}
        handle, staging = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        os.close(handle)
        try:
            with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                zf.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True))
                # The rows first, model by model, then the files they name.
                for name, path in sorted(self._paths.items(), key=lambda item: item[0].startswith("files/")):
                    zf.write(path, name)
            os.replace(staging, out)
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise
        return out.stat().st_size


# --- reading ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifiedArchive:
    """An archive whose every member was present, listed and matched its checksum: data parsed, files copied out."""

    manifest: dict
    data: dict[str, Any]  # member name -> parsed JSON
    files: dict[str, Path]  # member name -> a verified copy in the working folder


def damaged(path: Path, why: str) -> ArchiveDamagedError:
    return ArchiveDamagedError(f"{path.name} is damaged: {why}. Nothing was imported.")


def foreign(path: Path, why: str) -> ArchiveForeignError:
    return ArchiveForeignError(f"{path.name} is not a Quire workspace archive: {why}. Nothing was imported.")


def too_new(path: Path, why: str) -> ArchiveTooNewError:
    return ArchiveTooNewError(f"{path.name} was written by a newer Quire: {why}. Upgrade this Quire, then import it. "
                              "Nothing was imported.")


def archive_verify(path: Path, workdir: Path) -> VerifiedArchive:
    """Read the whole archive and check it against its manifest; ArchiveError (damaged, foreign, or made by a newer
    Quire) before anything is trusted. File members are copied into `workdir` as they are checked."""
    if not path.is_file():
        raise ArchiveError(f"No archive at {path}.")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise ArchiveDamagedError(f"{path.name} cannot be read as a zip archive ({error}): it is damaged, or not a "
                                  "Quire workspace archive. Nothing was imported.") from None
    with zf:
        infos = zf.infolist()
        names = [info.filename for info in infos]
        if MANIFEST not in names:
            raise foreign(path, "it has no manifest.json")
        if names[0] != MANIFEST:
            raise foreign(path, "manifest.json is not its first member")
        if len(set(names)) != len(names):
            raise damaged(path, "a member appears twice")
        manifest = _manifest(zf, infos[0], path)
        listed = manifest["members"]
        for name in names[1:]:
            if name not in listed:
                raise damaged(path, f"it holds {name!r}, which its manifest does not list")
        data: dict[str, Any] = {}
        files: dict[str, Path] = {}
        for n, (name, expected) in enumerate(sorted(listed.items())):
            if name not in names:
                raise damaged(path, f"member {name!r} is missing")
            if name.startswith("data/"):
                content = _read_checked(zf, name, expected, path, None)
                try:
                    data[name] = json.loads(content)
                except ValueError:
                    raise damaged(path, f"member {name!r} is not JSON") from None
            else:
                target = workdir / f"file-{n:06d}"
                _read_checked(zf, name, expected, path, target)
                files[name] = target
    return VerifiedArchive(manifest=manifest, data=data, files=files)


def _manifest(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> dict:
    if info.file_size > MAX_MANIFEST_BYTES:
        raise foreign(path, "its manifest.json is far too large")
    try:
        manifest = json.loads(zf.read(info))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise damaged(path, f"manifest.json cannot be read ({error})") from None
    except ValueError:
        raise damaged(path, "manifest.json is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise foreign(path, f"its manifest does not name the format {FORMAT_NAME!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise foreign(path, f"its format version {version!r} is not one Quire ever wrote")
    if version > FORMAT_VERSION:
        raise too_new(path, f"its archive format is {version} (Quire {manifest.get('quire_version', '?')}), and this "
                            f"Quire reads formats up to {FORMAT_VERSION}")
    members = manifest.get("members")
    if not isinstance(members, dict) or not all(
            isinstance(name, str) and _safe_member_name(name) and isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str) and isinstance(entry.get("size"), int)
            for name, entry in members.items()):
        raise damaged(path, "its manifest's member list is malformed")
    for key, kind in (("counts", dict), ("migrations", dict), ("models", list), ("workspace", dict)):
        if not isinstance(manifest.get(key), kind):
            raise damaged(path, f"its manifest has no {key!r}")
    return manifest


def _read_checked(zf: zipfile.ZipFile, name: str, expected: dict, path: Path, target: Path | None) -> bytes:
    """A member's bytes (or, with `target`, a copy there), read no further than its listed size and checked."""
    digest, size, kept = hashlib.sha256(), 0, []
    try:
        with zf.open(name) as source, (target.open("wb") if target else _Discard()) as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > expected["size"]:
                    raise damaged(path, f"member {name!r} is longer than its manifest says")
                digest.update(chunk)
                if target:
                    out.write(chunk)
                else:
                    kept.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise damaged(path, f"member {name!r} cannot be read ({error})") from None
    if size != expected["size"] or digest.hexdigest() != expected["sha256"]:
        raise damaged(path, f"member {name!r} does not match its checksum")
    return b"".join(kept)


class _Discard:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def copy_into(source: BinaryIO, out: _Hashing) -> None:
    shutil.copyfileobj(source, out, CHUNK)  # type: ignore[arg-type]


# --- schema -------------------------------------------------------------------------------------------------------

def migration_leaves() -> dict[str, str]:
    """Each app's newest migration in this code (a running Quire has exactly one per app)."""
    from django.db.migrations.loader import MigrationLoader

    leaves: dict[str, str] = {}
    for app, name in MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes():
        leaves[app] = max(leaves.get(app, ""), name)
    return dict(sorted(leaves.items()))


def migrations_unknown(recorded: dict, apps: set[str]) -> list[str]:
    """The archive's migrations of `apps` that this code does not have: it was written by a newer Quire."""
    from django.db.migrations.loader import MigrationLoader

    nodes = MigrationLoader(None, ignore_no_migrations=True).graph.nodes
    return sorted(f"{app}.{recorded[app]}" for app in apps
                  if isinstance(recorded.get(app), str) and (app, recorded[app]) not in nodes)

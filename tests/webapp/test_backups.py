"""Backup and restore: a workspace with real content (CUAD contracts read by the pipeline, a model's findings with
quotes, a comment, a review state, an assignee, a follow-up, a workspace playbook, obligations, a batch run, the audit
trail) exported and restored in a fresh database reads exactly as the original did; a damaged, foreign or newer
archive is refused whole; and the instance drill (pg_dump plus the storage folder) restores every row and file."""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django.utils import timezone

from tests import factories
from tests.webapp import backup_probe
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.backups import contents
from webapp.backups.archive import FORMAT_VERSION, MANIFEST, archive_verify
from webapp.documents.models import Document
from webapp.obligations.services import feed_create
from webapp.reports import review
from webapp.reports.models import Anchor, FollowUp
from webapp.reports.playbooks import playbook_save_questions
from webapp.tables.models import BatchRun
from webapp.workspaces.models import Invitation, Workspace
from webapp.workspaces.services import workspace_delete

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Full:
    workspace: Workspace
    people: list[dict]


@pytest.fixture
def full(owner, workspace, contracts) -> Full:
    """Three contracts read by the pipeline (pages, first pass, cells, obligations), one reviewed by a model and by
    the team, asked a follow-up, and everything else a workspace holds."""
    bob, carol = factories.make_user("bob"), factories.make_user("carol")
    factories.add_member(workspace, bob, "editor")
    factories.add_member(workspace, carol, "viewer")
    document = contracts[0]
    analysis = factories.make_ready_analysis(document, {
        "parties": ("Ability Inc. and its client", "low", True),
        "governing_law": ("The laws of the State of New York.", "medium", True),
        "non_compete": ("None found.", "none", False),
    })
    law = analysis.findings.get(item="governing_law")
    review.finding_comment(finding=law, user=bob, text="Check the venue clause <b>too</b>.")
    review.finding_set_review_state(finding=law, user=owner, state="disputed")
    review.finding_assign(finding=law, user=owner, assignee=bob)
    asked = FollowUp.objects.create(document=document, asked_by=carol, question="Who may end the agreement?",
                                    status="answered", answer="Either party, on notice.", model_id="table-test",
                                    answered_at=timezone.now())
    Anchor.objects.create(followup=asked, position=0, quote=document.text[40:90], verified=True, start=40, end=90,
                          pages=[1], exact=True, score=1.0)
    playbook_save_questions(workspace=workspace, user=owner, name="diligence", title="Diligence questions",
                            questions_text="Who are the parties?\nWhen does it end?")
    batch = BatchRun.objects.create(workspace=workspace, playbook_name="contract", playbook_title="Contract review",
                                    requested_by=owner, skipped={"not ready": 1})
    batch.analyses.add(analysis)
    audit_record(action=AuditAction.DOCUMENT_UPLOAD, actor=owner, workspace=workspace, target=document)
    audit_record(action=AuditAction.FOLLOWUP_ASK, actor=carol, workspace=workspace, target=document,
                 followup=str(asked.id))
    # Left out of the archive, by design: a member's feed token and a pending invitation's link.
    feed_create(workspace=workspace, user=owner)
    Invitation.objects.create(workspace=workspace, email="dan@example.com", role="viewer", token_hash="0" * 64,
                              invited_by=owner, expires_at=timezone.now() + timedelta(days=7))
    people = [{"username": u.username, "email": u.email} for u in (owner, bob, carol)]
    return Full(workspace=workspace, people=people)


def _export(workspace, path: Path) -> Path:
    call_command("workspace_export", str(workspace.id), "--out", str(path), stdout=io.StringIO())
    return path


def _import(path: Path, owner: str, *extra: str) -> tuple[Workspace, str]:
    out = io.StringIO()
    call_command("workspace_import", str(path), "--owner", owner, *extra, stdout=out)
    restored = re.search(r" as ([0-9a-f-]{36}):", out.getvalue()).group(1)
    return Workspace.objects.get(pk=restored), out.getvalue()


def _same(before: dict, after: dict) -> None:
    """Equal snapshots, or a readable diff of the first page or export that differs."""
    assert after["counts"] == before["counts"]
    assert after["files"] == before["files"]
    assert after["members"] == before["members"]
    assert sorted(after["read"]) == sorted(before["read"])
    for name, text in before["read"].items():
        if after["read"][name] != text:
            diff = difflib.unified_diff(text.splitlines(), after["read"][name].splitlines(), lineterm="")
            diff = "\n".join(list(diff)[:60])
            pytest.fail(f"{name} differs after the restore:\n{diff}")


def _restored_audit(at_export: list, after: list) -> None:
    """The trail as it was when exported, then the restore itself."""
    assert after[:-1] == at_export
    assert after[-1][1:3] == [AuditAction.WORKSPACE_CREATE, "olivia@example.com"]


def _pg(*args: str, **kwargs) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    return subprocess.run([*args, "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]],
                          check=True, capture_output=True, **kwargs)


@contextmanager
def _scratch_database(suffix: str):
    """A database of its own beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_{suffix}"
    _pg("dropdb", "--if-exists", "--force", name)
    _pg("createdb", name)
    try:
        yield name
    finally:
        _pg("dropdb", "--if-exists", "--force", name)


def _scratch_url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def test_a_workspace_restored_into_a_fresh_database_reads_as_the_original(full, owner, tmp_path):
    before = backup_probe.snapshot(full.workspace, owner)
    assert all(before["counts"].values()), before["counts"]  # real content of every kind
    at_export = backup_probe.audit_rows(full.workspace)
    archive = _export(full.workspace, tmp_path / "acme.zip")
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist()[0] == MANIFEST
        manifest = json.loads(zf.read(MANIFEST))
    assert manifest["counts"]["documents.document"] == 3 and manifest["counts"]["audit.auditevent"] == len(at_export)
    assert manifest["migrations"]["reports"].startswith("00") and manifest["format_version"] == FORMAT_VERSION
    assert {k: v["count"] for k, v in manifest["left_out"].items()} == {
        "workspaces.invitation": 1, "obligations.calendarfeed": 1, "tables.tableexport": 0}

    with _scratch_database("fresh") as fresh:
        # A fresh Quire: the test database's migrated, empty schema (this test's rows are not committed).
        dump = _pg("pg_dump", "--no-owner", "-d", connection.settings_dict["NAME"]).stdout
        _pg("psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", fresh, input=dump)
        out = tmp_path / "restored.json"
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _scratch_url(fresh),
               "QUIRE_VAR_DIR": str(tmp_path / "fresh-var"), "QUIRE_CACHE_URL": "locmem://",
               "ALLOWED_HOSTS": "testserver"}
        subprocess.run([sys.executable, "-m", "tests.webapp.backup_probe", str(archive), "olivia",
                        json.dumps(full.people), str(out)], cwd=REPO, env=env, check=True, timeout=120)
    restored = json.loads(out.read_text())
    assert "Members: bob (editor), carol (viewer), olivia (owner)" in restored["command"]
    assert "1 workspaces.invitation (invitation links carry a token" in restored["command"]
    assert "1 obligations.calendarfeed (" in restored["command"]
    _same(before, restored["snapshot"])
    _restored_audit(at_export, restored["snapshot"]["audit"])
    stored = [p for p in (tmp_path / "fresh-var" / "media" / "documents").rglob("*") if p.is_file()]
    assert len(stored) == 3  # in the fresh instance's own storage folder


def test_importing_twice_gives_two_independent_workspaces_each_the_deleted_original(
        full, owner, tmp_path, django_capture_on_commit_callbacks):
    before = backup_probe.snapshot(full.workspace, owner)
    at_export = backup_probe.audit_rows(full.workspace)
    archive = _export(full.workspace, tmp_path / "acme.zip")
    originals = [Path(d.file.path) for d in full.workspace.documents.all()]
    with django_capture_on_commit_callbacks(execute=True):
        workspace_delete(workspace=full.workspace, user=owner)
    assert not Workspace.objects.filter(pk=full.workspace.pk).exists() and not any(p.exists() for p in originals)

    first, _ = _import(archive, "olivia")
    second, _ = _import(archive, "olivia")
    for restored in (first, second):
        after = backup_probe.snapshot(restored, owner)
        _same(before, after)
        _restored_audit(at_export, after["audit"])
    assert first.pk != second.pk
    documents = [{d.pk for d in w.documents.all()} for w in (first, second)]
    assert documents[0].isdisjoint(documents[1])
    second_files = [Path(d.file.path) for d in second.documents.all()]
    with django_capture_on_commit_callbacks(execute=True):
        workspace_delete(workspace=first, user=owner)
    assert all(p.is_file() for p in second_files)
    assert backup_probe.counts(second) == before["counts"]


# --- refused archives ---------------------------------------------------------------------------------------------

@pytest.fixture
def small_archive(owner, workspace, tmp_path) -> Path:
    document = factories.make_document(workspace, content=b"A short agreement between two parties.\n")
    factories.make_ready_analysis(document, {"parties": ("Two parties", "low", True)})
    return _export(workspace, tmp_path / "small.zip")


def _rewrite(path: Path, change) -> Path:
    """The archive again, members passed through change(name, bytes) -> bytes or None (dropped), order kept."""
    with zipfile.ZipFile(path) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    target = path.with_name("changed.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            changed = change(name, data)
            if changed is not None:
                zf.writestr(name, changed)
    return target


def _manifest_with(**fields):
    def change(name, data):
        return json.dumps({**json.loads(data), **fields}).encode() if name == MANIFEST else data
    return change


def _flip_byte_in(prefix: str):
    def change(name, data):
        if not name.startswith(prefix):
            return data
        return data[:20] + bytes([data[20] ^ 0x01]) + data[21:]
    return change


def _foreign_zip(path: Path) -> Path:
    target = path.with_name("photos.zip")
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("holiday.jpg", b"\xff\xd8\xff not really a photo")
    return target


def _flip_byte_on_disk(path: Path) -> Path:
    """One byte changed in the archive file itself, half way into its largest member's stored bytes."""
    with zipfile.ZipFile(path) as zf:
        info = max(zf.infolist(), key=lambda i: i.compress_size)
    data = bytearray(path.read_bytes())
    name_length, extra_length = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    data[info.header_offset + 30 + name_length + extra_length + info.compress_size // 2] ^= 0x40
    target = path.with_name("flipped.zip")
    target.write_bytes(bytes(data))
    return target


def _truncated(path: Path) -> Path:
    target = path.with_name("cut.zip")
    target.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return target


REFUSALS = {  # how the archive is spoiled -> what the refusal says
    "one byte changed in a data member": (lambda p: _rewrite(p, _flip_byte_in("data/documents.")), "is damaged"),
    "one byte changed in a stored file": (lambda p: _rewrite(p, _flip_byte_in("files/")),
                                          "does not match its checksum"),
    "one byte changed in the archive file": (_flip_byte_on_disk, "is damaged: "),
    "a member missing": (lambda p: _rewrite(p, lambda n, d: None if n.startswith("files/") else d), "is missing"),
    "a member its manifest does not list": (lambda p: _extra_member(p), "which its manifest does not list"),
    "cut short": (_truncated, "cannot be read as a zip archive"),
    "a zip that is no Quire archive": (_foreign_zip, "is not a Quire workspace archive: it has no manifest.json"),
    "another program's manifest": (lambda p: _rewrite(p, _manifest_with(format="someone-else")),
                                   "is not a Quire workspace archive"),
    "a newer format": (lambda p: _rewrite(p, _manifest_with(format_version=FORMAT_VERSION + 1)),
                       f"written by a newer Quire: its archive format is {FORMAT_VERSION + 1}"),
    "a newer schema": (lambda p: _rewrite(p, _manifest_with(migrations={"reports": "0999_from_the_future"})),
                       "migrations this Quire does not have (reports.0999_from_the_future)"),
}


def _extra_member(path: Path) -> Path:
    target = _rewrite(path, lambda n, d: d)
    with zipfile.ZipFile(target, "a") as zf:
        zf.writestr("files/surprise.sh", b"#!/bin/sh\n")
    return target


def _state() -> tuple[dict, set]:
    """Every carried kind of row and every account in the database, and every file in storage."""
    rows = {kind.label: kind.model._base_manager.count() for kind in contents.CARRIED}
    rows["users"] = get_user_model().objects.count()
    files = {str(p.relative_to(settings.MEDIA_ROOT)) for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}
    return rows, files


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_damaged_foreign_or_newer_archive_is_refused_with_its_reason_and_changes_nothing(small_archive, case):
    make, reason = REFUSALS[case]
    bad = make(small_archive)
    before = _state()
    with pytest.raises(CommandError) as refused:
        _import(bad, "olivia")
    message = str(refused.value)
    assert reason in message and "Nothing was imported." in message and bad.name in message
    assert _state() == before


def test_a_restore_that_fails_while_writing_removes_the_rows_and_files_it_wrote(small_archive, monkeypatch):
    before = _state()
    stored = []
    real_save = Document.file.field.storage.save

    def save(name, content, max_length=None):
        stored.append(real_save(name, content, max_length=max_length))
        return stored[-1]

    def fail(*args, **kwargs):
        raise DatabaseError("the disk is full")

    monkeypatch.setattr(Document.file.field.storage, "save", save)
    monkeypatch.setattr("webapp.backups.importing._counts_check", fail)
    with pytest.raises(CommandError, match=r"do not fit this database \(DatabaseError: the disk is full\)"):
        _import(small_archive, "olivia")
    assert stored and _state() == before


def test_members_are_matched_by_username_and_the_archives_owner_becomes_the_importing_owner(owner, workspace, tmp_path):
    dave, erin, frank = (factories.make_user(n) for n in ("dave", "erin", "frank"))
    factories.add_member(workspace, dave, "editor")
    factories.add_member(workspace, erin, "viewer")
    document = factories.make_document(workspace)
    comment_on = factories.make_ready_analysis(document, {"parties": ("A and B", "low", True)}).findings.get()
    review.finding_comment(finding=comment_on, user=erin, text="Looks right.")
    review.finding_comment(finding=comment_on, user=owner, text="Agreed.")
    archive = _export(workspace, tmp_path / "acme.zip")
    erin.delete()  # no account for erin here any more

    restored, output = _import(archive, "frank")
    assert backup_probe.members(restored) == [["dave", "editor"], ["frank", "owner"]]
    assert "No account here for erin" in output
    authors = [c.author for c in restored.documents.get().analyses.get().findings.get().comments.order_by("created_at")]
    assert authors == [None, frank]  # erin's comment kept, unattributed; olivia's rows are frank's now

    alone, output = _import(archive, "frank", "--owner-only")
    assert backup_probe.members(alone) == [["frank", "owner"]] and "Not made members (--owner-only): dave" in output
    with pytest.raises(CommandError, match="No user named 'nobody' here"):
        _import(archive, "nobody")


def test_every_model_that_hangs_off_a_workspace_is_carried_or_named_as_left_out():
    """A model added later that reaches a workspace through its foreign keys must be decided on: carried, or left
    out with a reason; and every carried row points only at carried rows or at users."""
    reaching = {Workspace}
    grew = True
    while grew:
        grew = False
        for model in apps.get_models():
            if model not in reaching and any(
                    f.is_relation and f.concrete and f.related_model in reaching for f in model._meta.get_fields()):
                reaching.add(model)
                grew = True
    carried = {kind.model for kind in contents.CARRIED}
    assert reaching == carried | set(contents.LEFT_OUT)
    for model in carried:
        for field in model._meta.get_fields():
            if field.is_relation and (field.concrete or field.many_to_many):
                assert field.related_model in carried or field.related_model is get_user_model(), field


# --- the instance drill -------------------------------------------------------------------------------------------

def _table_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as db:
        tables = [r[0] for r in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.mark.django_db(transaction=True)
def test_the_instance_backup_drill_restores_every_row_and_file_into_a_fresh_database_and_folder(full, tmp_path):
    """docs/backup.md, step by step: pg_dump -Fc and a tar of the storage folder; pg_restore into a new database and
    the tar into a new folder; then the checks the document lists."""
    name = connection.settings_dict["NAME"]
    # The workspace archive beside it, exported outside any transaction (as the command runs): one repeatable-read
    # snapshot on PostgreSQL.
    archive = _export(full.workspace, tmp_path / "acme.zip")
    verified = archive_verify(archive, tmp_path)
    assert verified.manifest["counts"]["documents.document"] == 3 and len(verified.files) == 3
    dump, media = tmp_path / "quire.dump", tmp_path / "media.tar.gz"
    _pg("pg_dump", "--format=custom", "--no-owner", "--file", str(dump), "-d", name)
    with tarfile.open(media, "w:gz") as tar:
        tar.add(settings.MEDIA_ROOT, arcname=".")
    restored_media = tmp_path / "restored-media"
    with _scratch_database("drill") as restored:
        _pg("pg_restore", "--no-owner", "--exit-on-error", "-d", restored, str(dump))
        with tarfile.open(media) as tar:
            tar.extractall(restored_media, filter="data")
        source, copy = _table_counts(_scratch_url(name)), _table_counts(_scratch_url(restored))
        assert copy == source
        assert sum(1 for n in source.values() if n) >= 20, source  # a populated database, not an empty schema
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _scratch_url(restored),
               "QUIRE_MEDIA_ROOT": str(restored_media), "QUIRE_VAR_DIR": str(tmp_path / "var")}
        checked = subprocess.run([sys.executable, "manage.py", "restore_check"], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "Schema migrated; 3 originals present and unchanged." in checked.stdout
        with psycopg.connect(_scratch_url(restored)) as db:
            rows = db.execute("SELECT file, sha256 FROM documents_document").fetchall()
    assert len(rows) == 3
    for stored, sha256 in rows:
        assert hashlib.sha256((restored_media / stored).read_bytes()).hexdigest() == sha256


def test_the_restore_check_names_an_original_missing_or_changed_in_storage(owner, workspace):
    kept, changed, lost = (factories.make_document(workspace, content=f"Agreement {n}.".encode()) for n in range(3))
    Path(changed.file.path).write_bytes(b"Agreement 1, altered.")
    Path(lost.file.path).unlink()
    with pytest.raises(CommandError, match="0 migrations not applied .* 2 originals missing or changed; 1 originals"):
        call_command("restore_check", stdout=(out := io.StringIO()))
    assert f"document {changed.pk}: {changed.file.name} does not match its checksum" in out.getvalue()
    assert f"document {lost.pk}: {lost.file.name} is missing from storage" in out.getvalue()

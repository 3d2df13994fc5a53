"""Makes the upgrade test's fixture (tests/fixtures/upgrade/): a PostgreSQL database filled by a PREVIOUS release's own
code (its pages, services and pipeline steps, a scripted engine in place of a model), dumped as plain SQL, with its
stored files and a manifest of every table's rows and every file's hash. It must never run on the current code: the
fixture stands for an install made before the upgrade, so it is made by the release it names.

Run it from a checkout of that release, with this checkout's virtual environment (the release's code is imported from
the working directory, never from this checkout):

    git worktree add /tmp/quire-prev ddc42c4
    cd /tmp/quire-prev && /work/main/.venv/bin/python /work/main/scripts/make_upgrade_fixture.py \\
        --release ddc42c4 --out /work/main/tests/fixtures/upgrade

tests/webapp/test_upgrade.py imports `table_inventory` and `content_summary` from here, so the release that wrote the
rows and the code that reads them after the upgrade summarise them with the same function.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# Test-only values written into the fixture (and so into the manifest): the dump's sessions are signed with this key.
FIXTURE_SECRET_KEY = "quire-upgrade-fixture-key-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "correct horse battery staple"  # tests/factories.py's, for every user
FAR_FUTURE = "2099-01-01T00:00:00+00:00"  # the sessions must outlive the committed fixture
CORPUS_FILES = (  # two small CUAD contracts as text (one with dated obligations) and one as a PDF
    "contracts_cuad/SIBANNAC,INC_12_04_2017-EX-2.1-Strategic Alliance Agreement.txt",
    "contracts_cuad/FEDERATEDGOVERNMENTINCOMESECURITIESINC_04_28_2020-EX-99.SERV AGREE-SERVICES AGREEMENT_"
    "SECONDAMENDMENT.txt",
    "contracts_cuad/MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement.pdf",
)
# Tables the current code's `migrate` may add rows to (content types and permissions of new models, applied
# migrations); their rows up to the release's highest id must be unchanged.
GROWING_TABLES = frozenset({"django_migrations", "django_content_type", "auth_permission"})


# --- shared with the test: what a database holds, summarised the same way before and after an upgrade --------------

def table_inventory(connection, *, up_to: dict[str, int] | None = None) -> dict[str, dict]:
    """Every table of the public schema: its row count, its highest integer primary key, and a digest of each column's
    values in primary-key order. `up_to` limits a table to the rows at or below a primary key (GROWING_TABLES)."""
    from psycopg import sql

    up_to = up_to or {}
    inventory = {}
    with connection.cursor() as cursor:
        # The digests compare text forms: fix everything that changes how a value is printed.
        cursor.execute("SET TIME ZONE 'UTC'; SET datestyle = 'ISO, YMD'; SET extra_float_digits = 1; "
                       "SET bytea_output = 'hex'; SET intervalstyle = 'postgres'")
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                       "AND table_type = 'BASE TABLE' ORDER BY table_name")
        for (table,) in cursor.fetchall():
            cursor.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", [table])
            columns = cursor.fetchall()
            cursor.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
                [f'public."{table}"'])
            key = [name for (name,) in cursor.fetchall()] or [name for name, _ in columns]
            order = sql.SQL(", ").join(sql.Identifier(name) for name in key)
            integer_key = len(key) == 1 and dict(columns)[key[0]] in ("integer", "bigint", "smallint")
            where = sql.SQL("")
            if table in up_to and integer_key:
                where = sql.SQL(" WHERE {} <= {}").format(sql.Identifier(key[0]), sql.Literal(up_to[table]))
            digests = sql.SQL(", ").join(
                sql.SQL("md5(coalesce(string_agg(quote_nullable({c}), ',' ORDER BY {o}), ''))").format(
                    c=sql.Identifier(name), o=order)
                for name, _ in columns)
            top = sql.SQL("max({})").format(sql.Identifier(key[0])) if integer_key else sql.SQL("NULL")
            cursor.execute(sql.SQL("SELECT count(*), {top}, {digests} FROM {table}{where}").format(
                top=top, digests=digests, table=sql.Identifier(table), where=where))
            count, highest, *column_digests = cursor.fetchone()
            inventory[table] = {"rows": count, "max_pk": highest,
                                "columns": {name: digest for (name, _), digest in zip(columns, column_digests)}}
    return inventory


def content_summary() -> dict:
    """What the rows say, read through the models of whichever code is running (the release's, or the current code's
    after `migrate`): equal before and after an upgrade when nothing was lost or garbled on the way."""
    from collections import Counter

    from django.contrib.auth import get_user_model

    from webapp.api.models import ApiToken
    from webapp.audit.models import AuditEvent
    from webapp.documents.models import Document
    from webapp.obligations.models import CalendarFeed
    from webapp.reports.models import Analysis, FollowUp, WorkspacePlaybook
    from webapp.tables.models import BatchRun, TableExport
    from webapp.workspaces.models import Invitation, Workspace

    def digest(value) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def name(user) -> str | None:
        return user.username if user is not None else None

    documents = {}
    for document in Document.objects.select_related("report").prefetch_related("pages", "obligations"):
        report = getattr(document, "report", None)
        documents[document.original_name] = {
            "status": document.status, "kind": document.kind, "sha256": document.sha256, "size": document.size,
            "file": document.file.name, "uploaded_by": name(document.uploaded_by),
            "text_sha256": hashlib.sha256(document.text.encode()).hexdigest(), "words": document.word_count,
            "pages": [[p.number, p.start, p.end, len(p.lines)] for p in document.pages.all()],
            "report": None if report is None else {
                "kind": report.kind, "title": report.title, "facts": digest(report.facts),
                "first_pass": digest(report.first_pass), "cells": report.cells.count()},
            "obligations": [[o.kind, o.date.isoformat(), o.text] for o in document.obligations.all()],
        }
    analyses = []
    for analysis in Analysis.objects.select_related("document").prefetch_related(
            "findings__anchors", "findings__comments__author", "findings__reviewed_by", "findings__assigned_to"):
        analyses.append({
            "document": analysis.document.original_name, "playbook": analysis.playbook_name,
            "version": analysis.playbook_version, "status": analysis.status, "automatic": analysis.automatic,
            "model_id": analysis.model_id, "error_code": analysis.error_code,
            "playbook_sha256": digest(analysis.playbook),
            "findings": [{
                "item": f.item, "present": f.present, "answer": f.answer, "risk": f.risk,
                "review_state": f.review_state, "reviewed_by": name(f.reviewed_by), "assigned_to": name(f.assigned_to),
                "anchors": [[a.quote, a.verified, a.start, a.end, a.pages] for a in f.anchors.all()],
                "comments": [[name(c.author), c.text] for c in f.comments.all()],
            } for f in analysis.findings.all()],
        })
    analyses.sort(key=lambda a: (a["document"], a["playbook"], a["automatic"], a["status"], a["model_id"]))
    return {
        "users": sorted([u.username, u.email, u.is_active] for u in get_user_model().objects.all()),
        "workspaces": sorted([w.name, name(w.created_by),
                              sorted([m.user.username, m.role] for m in w.memberships.all())]
                             for w in Workspace.objects.prefetch_related("memberships__user")),
        "invitations": sorted([i.email, i.role, i.accepted_by.username if i.accepted_by else None]
                              for i in Invitation.objects.select_related("accepted_by")),
        "documents": documents,
        "analyses": analyses,
        "followups": sorted([f.document.original_name, f.question, f.status, f.answer,
                             [[a.quote, a.verified, a.start, a.end] for a in f.anchors.all()]]
                            for f in FollowUp.objects.select_related("document").prefetch_related("anchors")),
        "playbooks": sorted([p.workspace.name, p.name, p.version, digest(p.definition)]
                            for p in WorkspacePlaybook.objects.select_related("workspace")),
        "batches": sorted([b.playbook_name, b.cancelled_at is not None, sorted(a.status for a in b.analyses.all())]
                          for b in BatchRun.objects.prefetch_related("analyses")),
        "table_exports": sorted([e.fmt, e.status, e.rows, e.filename, e.file.name] for e in TableExport.objects.all()),
        "api_tokens": sorted([t.user.username, t.name, t.prefix, t.revoked_at is None]
                             for t in ApiToken.objects.select_related("user")),
        "calendar_feeds": sorted([f.user.username, f.workspace.name, f.revoked_at is None]
                                 for f in CalendarFeed.objects.select_related("user", "workspace")),
        "audit": dict(sorted(Counter(e.action for e in AuditEvent.objects.all()).items())),
    }


# --- making the fixture (the release's code only) --------------------------------------------------------------------

def _release_root() -> Path:
    root = Path.cwd().resolve()
    if not (root / "manage.py").is_file() or not (root / "webapp" / "settings.py").is_file():
        sys.exit(f"Run this from a checkout of the release to dump (no manage.py or webapp/ in {root}).")
    return root


def _server_connection(server_url: str, database: str = "postgres"):
    import psycopg

    return psycopg.connect(f"{server_url.rstrip('/')}/{database}", autocommit=True)


def _drop_database(server_url: str, database: str) -> None:
    from psycopg import sql

    with _server_connection(server_url) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def _fresh_database(server_url: str, database: str) -> None:
    from psycopg import sql

    _drop_database(server_url, database)
    with _server_connection(server_url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _configure(*, root: Path, database_url: str, var_dir: Path) -> None:
    """The release's settings, read from the environment as a deployment's would be; child processes (the isolated
    ingestion) inherit them."""
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "PYTHONPATH": str(root),
        "DATABASE_URL": database_url,
        "QUIRE_VAR_DIR": str(var_dir),
        "SECRET_KEY": FIXTURE_SECRET_KEY,
        "QUIRE_HTTPS": "false",
        "ALLOWED_HOSTS": "testserver,localhost",
        "CELERY_BROKER_URL": "memory://",  # tasks are run here, by hand; what is sent goes nowhere
        "QUIRE_CACHE_URL": "locmem://",
        "QUIRE_MANIFEST_STATIC": "false",  # pages render without collectstatic
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "QUIRE_INVITE_DAYS": "27000",  # about 74 years: the committed invitation must not expire
        "QUIRE_ENGINE": "openai",  # a scripted engine stands in for the model (tests/doubles.py)
        "QUIRE_ENGINE_MODEL": "served/scripted-test-double",
        "LOG_LEVEL": "WARNING",
    })
    for variable in ("QUIRE_MEDIA_ROOT", "QUIRE_STORAGE", "DEBUG"):
        os.environ.pop(variable, None)
    sys.path.insert(0, str(root))

    import django

    django.setup()
    import webapp

    if not Path(webapp.__file__).resolve().is_relative_to(root):
        sys.exit(f"webapp was imported from {webapp.__file__}, not from the release at {root}.")


def _reply(findings: list[dict]) -> str:
    return json.dumps({"findings": [{"risk": "none", "risk_note": "", "quotes": [], **f} for f in findings]})


def populate(*, corpus: Path) -> dict:
    """Fill the empty database the way people and workers would have; returns the raw secrets the test needs (tokens
    and sessions exist in the database only as hashes or signed data)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from django.utils.dateparse import parse_datetime

    from tests import factories
    from tests.doubles import ScriptedEngine
    from webapp.api import tokens
    from webapp.documents.models import Document
    from webapp.obligations.services import feed_create
    from webapp.pipeline import analyses, followups, ingest, reading
    from webapp.reports import playbooks, review
    from webapp.reports.models import Analysis, Finding
    from webapp.tables import batches, export_jobs
    from webapp.workspaces import services as workspaces

    call_command("migrate", interactive=False, verbosity=0)

    engine = ScriptedEngine([])
    for module in (analyses, followups, reading):
        module.engine_from_settings = lambda: engine  # as tests/webapp/test_analyses.py's `scripted` fixture does

    # People: three made as the tests make them, one through the sign-up page; a log-in and a failed one (audit
    # events, django-axes' records, a session).
    olivia, erin, vera = (factories.make_user(n) for n in ("olivia", "erin", "vera"))
    ivy_browser = Client()
    response = ivy_browser.post(reverse("signup"), {"username": "ivy", "email": "ivy@example.com",
                                                    "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    browser = Client(HTTP_USER_AGENT="upgrade-fixture", REMOTE_ADDR="127.0.0.1")
    assert browser.post(reverse("login"), {"username": "olivia", "password": PASSWORD}).status_code == 302
    refused = Client(REMOTE_ADDR="127.0.0.2").post(reverse("login"), {"username": "vera", "password": "wrong password"})
    assert refused.status_code == 200

    # A workspace with an editor and a viewer who joined by invitation, and an invitation still pending.
    workspace = workspaces.workspace_create(user=olivia, name="Acme contracts")
    for user, role in ((erin, "editor"), (vera, "viewer")):
        sent = workspaces.member_invite(workspace=workspace, inviter=olivia, email=user.email, role=role,
                                        base_url="http://testserver")
        workspaces.invitation_accept(token=sent.url.rstrip("/").rsplit("/", 1)[-1], user=user)
    pending = workspaces.member_invite(workspace=workspace, inviter=olivia, email="ivy@example.com", role="viewer",
                                       base_url="http://testserver")
    invitation_token = pending.url.rstrip("/").rsplit("/", 1)[-1]
    api_token = tokens.token_create(user=olivia, name="upgrade check")

    # Documents: uploaded through the page, then read by the pipeline's own steps as the workers run them.
    paths = [corpus / name for name in CORPUS_FILES]
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(path.open("rb")) for path in paths]
        response = browser.post(reverse("documents:upload", args=[workspace.id]), {"files": files},
                                HTTP_ACCEPT="application/json")
    stored = response.status_code == 200 and all(r["outcome"] == "stored" for r in response.json()["results"])
    assert stored, response.content
    alliance, services_amendment, co_branding = (Document.objects.get(original_name=path.name) for path in paths)
    for document in (alliance, services_amendment, co_branding):
        ingest.document_ingest(document_id=document.id)
        reading.report_generate(document_id=document.id)

    # The automatic contract reviews: two answered with verified quotes, one whose model never wrote JSON (failed).
    engine.replies.append(_reply([
        {"item": "parties", "present": True, "answer": "Bravatek Solutions, Inc.; Sibannac, Inc.",
         "quotes": ["by and between Bravatek Solutions, Inc., a corporation organized under the laws of the State of "
                    "Colorado"]},
        {"item": "governing_law", "present": True, "answer": "Texas", "risk": "low",
         "risk_note": "Neither party's home state.",
         "quotes": ["shall be interpreted according to the laws of the State of Texas"]},
        {"item": "renewal_term", "present": True, "answer": "One further twelve-month period unless notice is given.",
         "quotes": ["will be automatically renewed for one (1) additional twelve month period", "renews forever"]},
        {"item": "anti_assignment", "present": True, "answer": "Consent of the other party needed.", "risk": "medium",
         "quotes": ["This Agreement shall not be assignable by either party without the prior written consent of the "
                    "other party."]},
        {"item": "cap_on_liability", "present": False, "answer": ""},
    ]))
    analyses.analysis_run(analysis_id=Analysis.objects.get(document=alliance, automatic=True).id)
    engine.replies.extend(["Not JSON, sorry.", "Still not JSON."])
    analyses.analysis_run(analysis_id=Analysis.objects.get(document=services_amendment, automatic=True).id)
    engine.replies.append(_reply([
        {"item": "parties", "present": True, "answer": "Lucent Technologies Inc.; mPhase Technologies Inc.",
         "quotes": ["Lucent Technologies Inc., a Delaware corporation"]},
        {"item": "license_grant", "present": True, "answer": "mPhase may use the Lucent co-branding logo.",
         "quotes": ["mPhase may apply only the exact logo shown on Schedule A"]},
    ]))
    analyses.analysis_run(analysis_id=Analysis.objects.get(document=co_branding, automatic=True).id)
    # And one made as the tests make a ready analysis (tests/factories.py).
    factories.make_ready_analysis(Document.objects.get(pk=co_branding.pk), {
        "governing_law": ("New York", "low", True), "exclusivity": ("", "none", False)}, model_id="table-test")

    # The team's review of the first contract: a state, an assignee, a comment, a follow-up question answered.
    law = Finding.objects.get(analysis__document=alliance, analysis__automatic=True, item="governing_law")
    assignment = Finding.objects.get(analysis__document=alliance, analysis__automatic=True, item="anti_assignment")
    review.finding_set_review_state(finding=law, user=erin, state="reviewed")
    review.finding_set_review_state(finding=assignment, user=erin, state="disputed")
    review.finding_assign(finding=assignment, user=olivia, assignee=vera)
    review.finding_comment(finding=law, user=vera, text="Texas law, <b>not</b> Colorado: ask counsel before signing.")
    alliance.refresh_from_db()
    asked = followups.followup_ask(document=alliance, user=olivia, question="How long does the agreement run?")
    engine.replies.append(json.dumps({
        "answer": "Twelve months, renewed once for twelve more unless notice is given.",
        "quotes": ["The term of this Agreement is twelve (12) months from the date hereof"]}))
    followups.followup_answer(followup_id=asked.id)

    # The workspace's own questions, run as a batch over the two text contracts: one answered, then the batch
    # cancelled (the other analysis with it).
    playbooks.playbook_save_questions(
        workspace=workspace, user=olivia, name="alliance", title="Alliance questions",
        questions_text="Who pays the lead-finder fee?\nHow long does confidentiality last?")
    batch = batches.batch_start(workspace=workspace, user=olivia, playbook_name="alliance",
                                documents=Document.objects.filter(pk__in=[alliance.pk, services_amendment.pk]))
    engine.replies.append(_reply([
        {"item": "q1", "present": True, "answer": "COMPANY pays Bravatek 10% to 20% of project revenue.",
         "quotes": ["Bravatek will receive a lead-finder fee"]},
        {"item": "q2", "present": True, "answer": "Five years after termination.",
         "quotes": ["For a period of five (5) years after termination of this Agreement"]},
    ]))
    analyses.analysis_run(analysis_id=batch.analyses.get(document=alliance).id)
    batches.batch_cancel(batch=batch, user=olivia)

    # The obligations calendar's private feed, a table export written by the worker's function, and the pages people
    # open (the report view and the original's download leave audit events).
    feed = feed_create(workspace=workspace, user=olivia)
    job = export_jobs.export_job_start(workspace=workspace, user=olivia, fmt="csv", params={},
                                       base_url="http://testserver")
    export_jobs.export_job_run(job_id=job.id)
    assert browser.get(reverse("reports:detail", args=[alliance.id])).status_code == 200
    download = browser.get(reverse("documents:file", args=[co_branding.id]))
    assert download.status_code == 200 and download.getvalue()

    # Sessions that outlive the committed fixture: a browser logged in long ago is still logged in after the upgrade.
    sessions = {}
    for username, client in (("olivia", browser), ("ivy", ivy_browser)):
        store = SessionStore(session_key=client.cookies["sessionid"].value)
        store.set_expiry(parse_datetime(FAR_FUTURE))
        store.save()
        sessions[username] = store.session_key
    return {"password": PASSWORD, "api_token": api_token.raw, "invitation_token": invitation_token,
            "invitation_email": "ivy@example.com", "feed_token": feed.token, "sessions": sessions,
            "workspace": "Acme contracts"}


def _deterministic_gzip(data: bytes, path: Path) -> None:
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
        out.write(data)


def _pack_storage(media_root: Path, path: Path) -> dict[str, str]:
    """media/<every stored file> as a gzipped tar (no owners, no times), and each file's SHA-256 by storage name."""
    hashes, buffer = {}, io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for file in sorted(p for p in media_root.rglob("*") if p.is_file()):
            name = file.relative_to(media_root).as_posix()
            data = file.read_bytes()
            hashes[name] = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(f"media/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    _deterministic_gzip(buffer.getvalue(), path)
    return hashes


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", required=True, help="the release's commit, named in the fixture's file names")
    parser.add_argument("--out", type=Path, required=True, help="the fixture folder (tests/fixtures/upgrade)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL, no database")
    parser.add_argument("--database", default="quire_upgrade_src", help="made afresh, dumped, then dropped")
    beside = Path(__file__).resolve().parents[2] / "shared" / "corpus"  # as tests/conftest.py finds it
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("QUIRE_CORPUS_DIR") or beside),
                        help="the shared corpus (default: ../shared/corpus beside this checkout)")
    parser.add_argument("--keep", action="store_true", help="leave the database in place afterwards")
    args = parser.parse_args()

    root = _release_root()
    commit, changed = _git(root, "rev-parse", "HEAD"), _git(root, "status", "--porcelain", "--untracked-files=no")
    if changed or not commit.startswith(args.release):
        sys.exit(f"{root} is at {commit[:12]}{' with changes' if changed else ''}, not at release {args.release}.")
    database_url = f"{args.server.rstrip('/')}/{args.database}"
    stem = f"release-{args.release}"
    args.out.mkdir(parents=True, exist_ok=True)
    _fresh_database(args.server, args.database)
    try:
        with tempfile.TemporaryDirectory(prefix="quire-upgrade-fixture-") as var_dir:
            _configure(root=root, database_url=database_url, var_dir=Path(var_dir))
            from django.conf import settings
            from django.db import connections

            secrets = populate(corpus=args.corpus)
            content = content_summary()
            connections.close_all()
            with _server_connection(args.server, args.database) as connection:
                tables = table_inventory(connection)
            dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "--format=plain",
                                   "--dbname", database_url], capture_output=True, check=True).stdout
            _deterministic_gzip(dump, args.out / f"{stem}.sql.gz")
            files = _pack_storage(Path(settings.MEDIA_ROOT), args.out / f"{stem}-storage.tar.gz")
    finally:
        if not args.keep:
            _drop_database(args.server, args.database)
    manifest = {
        "release": commit,
        "made_by": f"scripts/make_upgrade_fixture.py --release {args.release}",
        "dump": f"{stem}.sql.gz",
        "storage": f"{stem}-storage.tar.gz",
        "secret_key": FIXTURE_SECRET_KEY,
        "secrets": secrets,
        "growing_tables": sorted(GROWING_TABLES),
        "tables": tables,
        "files": files,
        "content": content,
    }
    (args.out / f"{stem}.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{stem}: {len(tables)} tables, {sum(t['rows'] for t in tables.values())} rows, {len(files)} files")
    for path in sorted(args.out.glob(f"{stem}*")):
        print(f"  {path.name}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()

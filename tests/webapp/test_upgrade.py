"""An upgrade loses nothing: a database and storage made by the previous release's own code (tests/fixtures/upgrade/,
made by scripts/make_upgrade_fixture.py) are migrated by the current code in a scratch database, and every row, every
column's values and every stored file is still there; the current models read the same content; and what people hold
from before (a session, a password, an API token, an invitation link, a calendar feed) still works.

The test names no migration: whatever the current code adds, the release's rows must survive it and nothing may be
left unapplied. A migration that changes stored values on purpose says so in CHANGED_ON_PURPOSE, with its reason.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
RELEASE = "ddc42c4"  # the release before this one; its fixture is made by that release's code
FIXTURES = REPO / "tests" / "fixtures" / "upgrade"
MANIFEST = FIXTURES / f"release-{RELEASE}.json"
# (table, column) -> why a migration of the current code rewrites the release's values there. Empty: none does.
CHANGED_ON_PURPOSE: dict[tuple[str, str], str] = {}
PROBE = "import sys, django; django.setup(); from tests.webapp.test_upgrade import _probe; _probe(*sys.argv[1:])"


def _fixture_script():
    """scripts/make_upgrade_fixture.py: the same `table_inventory` and `content_summary` that described the release's
    database describe the upgraded one."""
    spec = importlib.util.spec_from_file_location("make_upgrade_fixture", REPO / "scripts" / "make_upgrade_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Upgraded:
    manifest: dict
    migrate: subprocess.CompletedProcess
    migrate_check: subprocess.CompletedProcess
    check: subprocess.CompletedProcess
    tables: dict  # table_inventory() of the migrated database, before anything else touched it
    media_root: Path
    probe: dict  # what the current code read and answered (_probe)


def _database_urls() -> tuple[str, str]:
    """The PostgreSQL server the tests use: its maintenance database, and a fresh scratch database's name."""
    url = urlsplit(os.environ.get("DATABASE_URL", ""))
    if not url.scheme.startswith("postgres"):
        pytest.skip(f"the upgrade test restores a PostgreSQL dump; DATABASE_URL is {url.scheme or 'unset'}")
    server = urlunsplit((url.scheme, url.netloc, "/postgres", url.query, ""))
    return server, f"quire_upgrade_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _with_database(server: str, name: str) -> str:
    url = urlsplit(server)
    return urlunsplit((url.scheme, url.netloc, f"/{name}", url.query, ""))


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def _run_together(commands: list[list[str]], env: dict) -> list[subprocess.CompletedProcess]:
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: _run(args, env), commands))


def _current_code_env(*, database_url: str, var_dir: Path, manifest: dict) -> dict:
    """The current code's own settings (webapp.settings, not the tests'), as a deployment upgraded in place has them:
    same database and storage, same secret key (the release's sessions are signed with it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUIRE_", "DJANGO_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": database_url,
        "QUIRE_VAR_DIR": str(var_dir),
        "SECRET_KEY": manifest["secret_key"],
        "QUIRE_HTTPS": "false",
        "ALLOWED_HOSTS": "testserver,localhost",
        "CELERY_BROKER_URL": "memory://",
        "QUIRE_CACHE_URL": "locmem://",
        "QUIRE_MANIFEST_STATIC": "false",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "ERROR",
        "HF_ENDPOINT": "http://127.0.0.1:9",
    })
    env.pop("DEBUG", None)
    return env


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory) -> Upgraded:
    if shutil.which("psql") is None:
        pytest.skip("psql (PostgreSQL's client) is not installed: the release's SQL dump cannot be restored")
    import psycopg
    from psycopg import sql

    manifest = json.loads(MANIFEST.read_text())
    script = _fixture_script()
    server, name = _database_urls()
    database_url = _with_database(server, name)
    var_dir = tmp_path_factory.mktemp("upgrade-var")
    with tarfile.open(FIXTURES / manifest["storage"]) as tar:
        tar.extractall(var_dir, filter="data")
    env = _current_code_env(database_url=database_url, var_dir=var_dir, manifest=manifest)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        restored = subprocess.run(["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--dbname", database_url],
                                  input=gzip.decompress((FIXTURES / manifest["dump"]).read_bytes()),
                                  capture_output=True, timeout=120)
        assert restored.returncode == 0, restored.stderr.decode()[-4000:]

        manage = [sys.executable, "manage.py"]
        migrate = _run([*manage, "migrate", "--noinput"], env)
        assert migrate.returncode == 0, f"migrating the release's database failed:\n{_output(migrate)}"
        # Before anything logs in or reads through the API (which write last-used times and sessions).
        up_to = {t: manifest["tables"][t]["max_pk"] for t in manifest["growing_tables"] if t in manifest["tables"]}
        with psycopg.connect(database_url) as connection:
            tables = script.table_inventory(connection, up_to=up_to)
        out = var_dir / "probe.json"
        # Three processes of the current code at once: most of each one's time is Django starting.
        migrate_check, check, probe = _run_together([
            [*manage, "migrate", "--check"], [*manage, "check"], [sys.executable, "-c", PROBE, str(MANIFEST), str(out)],
        ], env)
        assert probe.returncode == 0 and out.exists(), (probe.stdout + probe.stderr)[-6000:]
        yield Upgraded(manifest=manifest, migrate=migrate, migrate_check=migrate_check, check=check, tables=tables,
                       media_root=var_dir / "media", probe=json.loads(out.read_text()))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _probe(manifest_path: str, out_path: str) -> None:
    """Runs in the current code's own process (webapp.settings) against the migrated database: what its models read,
    and how its pages and API answer the credentials made before the upgrade. Writes JSON to out_path."""
    from django.conf import settings
    from django.contrib.auth import authenticate
    from django.test import Client, RequestFactory
    from django.urls import reverse

    from webapp.documents.models import Document
    from webapp.reports.models import Analysis

    manifest = json.loads(Path(manifest_path).read_text())
    secrets = manifest["secrets"]
    found: dict = {"content": _fixture_script().content_summary()}  # first: the requests below add audit events

    api = Client(HTTP_AUTHORIZATION=f"Bearer {secrets['api_token']}")
    me = api.get("/api/v1/me/")
    found["api_me"] = [me.status_code, me.json().get("username") if me.status_code == 200 else None]
    found["api_documents"] = {}
    for document in Document.objects.all():
        original = api.get(f"/api/v1/documents/{document.id}/file/")
        report = api.get(f"/api/v1/documents/{document.id}/report/")
        found["api_documents"][document.original_name] = {
            "file": [original.status_code, hashlib.sha256(original.getvalue()).hexdigest()],
            "report": report.status_code}
    alliance = Analysis.objects.get(document__original_name__startswith="SIBANNAC", automatic=True)
    detail = api.get(f"/api/v1/analyses/{alliance.id}/")
    found["api_analysis"] = [detail.status_code, detail.json().get("findings") if detail.status_code == 200 else None]

    sessions = {}
    for username, key in secrets["sessions"].items():
        browser = Client()
        browser.cookies[settings.SESSION_COOKIE_NAME] = key
        sessions[username] = browser
    listed = sessions["olivia"].get(reverse("workspaces:list"))
    found["session_workspaces"] = [listed.status_code, secrets["workspace"] in listed.content.decode()]
    page = sessions["olivia"].get(reverse("reports:detail", args=[alliance.document_id]), {"analysis": alliance.id})
    found["session_report_page"] = [page.status_code, page.content.decode() if page.status_code == 200 else ""]
    invitation = sessions["ivy"].get(reverse("workspaces:invitation-accept", args=[secrets["invitation_token"]]))
    found["invitation_page"] = [invitation.status_code, invitation.content.decode()]
    feed = Client().get(reverse("obligations:feed", args=[secrets["feed_token"]]))
    found["feed"] = [feed.status_code, feed.getvalue().decode()]
    # Last: a log-in may rehash the password, which ends the sessions above.
    request = RequestFactory().post("/", REMOTE_ADDR="127.0.0.9")
    user = authenticate(request, username="olivia", password=secrets["password"])
    found["password_login"] = user.get_username() if user is not None else None
    Path(out_path).write_text(json.dumps(found))


def _output(completed: subprocess.CompletedProcess) -> str:
    return (completed.stdout + completed.stderr)[-4000:]


def test_the_previous_release_s_database_migrates_with_nothing_left_pending(upgraded):
    assert upgraded.migrate.returncode == 0, _output(upgraded.migrate)
    assert upgraded.migrate_check.returncode == 0, f"migrations left unapplied:\n{_output(upgraded.migrate_check)}"
    assert upgraded.check.returncode == 0, _output(upgraded.check)


def test_every_row_and_value_of_the_previous_release_is_still_there(upgraded):
    """Row counts (exact; at least, for tables migrate adds to) and each column's values, in primary-key order."""
    before, after = upgraded.manifest["tables"], upgraded.tables
    assert sum(t["rows"] for t in before.values()) > 300  # the fixture is not empty
    problems = []
    for table, old in sorted(before.items()):
        new = after.get(table)
        if new is None:
            problems.append(f"{table}: the table is gone ({old['rows']} rows)")
            continue
        if new["rows"] != old["rows"]:
            problems.append(f"{table}: {old['rows']} rows before the upgrade, {new['rows']} after")
        for column, digest in old["columns"].items():
            if (table, column) in CHANGED_ON_PURPOSE:
                continue
            if column not in new["columns"]:
                problems.append(f"{table}.{column}: the column is gone")
            elif new["columns"][column] != digest:
                problems.append(f"{table}.{column}: its values changed")
    assert not problems, "\n".join(problems)


def test_every_stored_file_is_still_there_unchanged(upgraded):
    files = upgraded.manifest["files"]
    assert any(name.startswith("documents/") for name in files) and any(name.startswith("exports/") for name in files)
    for name, sha256 in files.items():
        path = upgraded.media_root / name
        assert path.is_file(), f"{name} is missing"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, f"{name} changed"
    served = upgraded.probe["api_documents"]
    for original_name, document in upgraded.manifest["content"]["documents"].items():
        assert served[original_name]["file"] == [200, document["sha256"]]  # the current code serves the same bytes


def test_the_current_code_reads_what_the_previous_release_wrote(upgraded):
    before, after = upgraded.manifest["content"], upgraded.probe["content"]
    for part in before:
        assert after.get(part) == before[part], f"{part}: the current code reads something else than the release wrote"
    # The same, as a reader would look for it: text and pages, first pass, answers, quotes, comments, questions, audit.
    alliance = next(d for name, d in after["documents"].items() if name.startswith("SIBANNAC"))
    assert alliance["status"] == "ready" and alliance["words"] > 1000 and alliance["pages"]
    assert alliance["report"]["kind"] == "contract" and alliance["report"]["cells"] > 10
    assert [o[0] for o in alliance["obligations"]] == ["notice_deadline", "expiry", "renewal"]
    pdf = next(d for name, d in after["documents"].items() if name.endswith(".pdf"))
    assert pdf["kind"] == "pdf" and len(pdf["pages"]) == 3 and all(lines for *_, lines in pdf["pages"])
    review = next(a for a in after["analyses"] if a["document"].startswith("SIBANNAC") and a["automatic"])
    law = next(f for f in review["findings"] if f["item"] == "governing_law")
    assert law["answer"] == "Texas" and law["review_state"] == "reviewed" and law["reviewed_by"] == "erin"
    assert law["anchors"][0][:2] == ["shall be interpreted according to the laws of the State of Texas", True]
    assert law["comments"] == [["vera", "Texas law, <b>not</b> Colorado: ask counsel before signing."]]
    assignment = next(f for f in review["findings"] if f["item"] == "anti_assignment")
    assert (assignment["review_state"], assignment["assigned_to"]) == ("disputed", "vera")
    assert [f[2:4] for f in after["followups"]] == [
        ["answered", "Twelve months, renewed once for twelve more unless notice is given."]]
    assert after["batches"] == [["alliance", True, ["cancelled", "ready"]]]
    assert {"login", "login_failed", "document_upload", "member_join", "token_create", "export"} <= set(after["audit"])
    status, findings = upgraded.probe["api_analysis"]
    assert status == 200 and {f["item"]: f["answer"] for f in findings}["governing_law"] == "Texas"
    assert all(d["report"] == 200 for d in upgraded.probe["api_documents"].values())


def test_sessions_passwords_tokens_invitations_and_feeds_from_before_still_work(upgraded):
    probe = upgraded.probe
    assert probe["api_me"] == [200, "olivia"]  # the API token, through the current code's token lookup
    assert probe["session_workspaces"] == [200, True]  # still logged in: the session made before the upgrade
    status, page = probe["session_report_page"]
    assert status == 200
    assert "Texas law, &lt;b&gt;not&lt;/b&gt; Colorado" in page and "Twelve months, renewed once" in page
    status, page = probe["invitation_page"]  # the invitee's pending link still resolves to its workspace
    assert status == 200 and "Acme contracts" in page
    status, calendar = probe["feed"]
    assert status == 200 and calendar.count("BEGIN:VEVENT") == 3
    assert probe["password_login"] == "olivia"

"""What an outside probe found exposed (issue 26): /metrics counting every workspace for anyone who asked, the
SQLite database and its WAL readable by every account on the host, originals and page images without
`Cache-Control: private, no-store`, and invitation, password-reset and feed tokens written into access logs."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from tests import factories
from tests.worker import REPO, _test_database_url, free_port
from webapp.documents.models import Document

pytestmark = pytest.mark.security

OUTSIDER = "203.0.113.9"  # TEST-NET-3: an address on nobody's allow-list

# Tokens shaped like the real ones (secrets.token_urlsafe(32); Django's "<timestamp>-<hash>"), each unmistakable
# in a log.
INVITE_TOKEN = "Inv1teT0ken-secret_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
FEED_TOKEN = "FeedT0ken-secret_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
RESET_TOKEN = "cq3xyz-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CODE_TOKEN = "OidcC0de-secret_CCCCCCCCCCCCCCCCCCCCCCCCCCCC"
TOKENS = (INVITE_TOKEN, FEED_TOKEN, RESET_TOKEN, CODE_TOKEN)


# --- /metrics -------------------------------------------------------------------------------------------------

@pytest.fixture
def counted(db):
    """Documents in two workspaces, so a metrics body that leaks says quire_documents."""
    factories.make_document(factories.make_workspace(name="A"), content=b"one")
    factories.make_document(factories.make_workspace(name="B"), content=b"two", status="failed", error_code="corrupt")


def test_metrics_refuse_an_anonymous_outsider_and_answer_loopback(counted, settings):
    settings.QUIRE_METRICS_TOKEN = ""
    refused = Client().get("/metrics", REMOTE_ADDR=OUTSIDER)
    assert refused.status_code == 403
    assert b"quire_documents" not in refused.content and b"corrupt" not in refused.content
    for address in ("127.0.0.1", "::1"):  # a Prometheus on the same host
        response = Client().get("/metrics", REMOTE_ADDR=address)
        assert response.status_code == 200, address
        assert b'quire_documents_failed{code="corrupt"} 1.0' in response.content


def test_metrics_answer_only_the_allow_listed_networks_when_set(counted, settings):
    settings.QUIRE_METRICS_TOKEN = ""
    settings.QUIRE_METRICS_ALLOW = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
    for address in ("10.1.2.3", "2001:db8::9", "192.0.2.7"):
        assert Client().get("/metrics", REMOTE_ADDR=address).status_code == 200, address
    for address in (OUTSIDER, "192.0.2.8", "127.0.0.1", "not-an-address", ""):
        response = Client().get("/metrics", REMOTE_ADDR=address)
        assert response.status_code == 403, address
        assert b"quire_documents" not in response.content


def test_metrics_refuse_loopback_requests_that_came_through_a_proxy(counted, settings):
    """A reverse proxy on the same host connects from 127.0.0.1 for every visitor; what it forwards is not local."""
    settings.QUIRE_METRICS_TOKEN = ""
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP", "HTTP_X_FORWARDED_PROTO"):
        response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: OUTSIDER if "PROTO" not in header else "https"})
        assert response.status_code == 403, header
        assert b"quire_documents" not in response.content


def test_metrics_from_any_address_need_the_token(counted, settings):
    settings.QUIRE_METRICS_TOKEN = ""
    assert Client().get("/metrics", REMOTE_ADDR=OUTSIDER).status_code == 403
    settings.QUIRE_METRICS_TOKEN = "s3cret-scrape"
    scraper = Client(REMOTE_ADDR=OUTSIDER)
    allowed = scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert allowed.status_code == 200 and b"quire_documents" in allowed.content
    for authorization in ("", "Bearer wrong", "s3cret-scrape-but-longer"):
        refused = scraper.get("/metrics", HTTP_AUTHORIZATION=authorization)
        assert refused.status_code == 401 and b"quire_documents" not in refused.content
    # With a token set, loopback needs it too: setting one says "only with the token".
    assert Client().get("/metrics").status_code == 401


def test_a_malformed_metrics_allow_list_stops_start_up_with_its_name(tmp_path):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="webapp.settings", QUIRE_VAR_DIR=str(tmp_path),
               QUIRE_METRICS_ALLOW="127.0.0.1/32,localhost")
    code = "import django; django.setup(); from django.conf import settings; print(settings.QUIRE_METRICS_ALLOW)"
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "QUIRE_METRICS_ALLOW" in run.stderr and "localhost" in run.stderr


# --- The SQLite database -------------------------------------------------------------------------------------

def _manage(*args: str, var_dir: Path, database: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY")}
    env.update(DJANGO_SETTINGS_MODULE="webapp.settings", QUIRE_VAR_DIR=str(var_dir),
               DATABASE_URL=f"sqlite:///{database}", QUIRE_HTTPS="false")
    # The usual umask of a login shell or a container: files are world-readable unless created otherwise.
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, preexec_fn=lambda: os.umask(0o022))


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_the_sqlite_database_and_its_wal_are_created_owner_only(tmp_path):
    var_dir, database = tmp_path / "var", tmp_path / "var" / "quire.sqlite3"
    migrated = _manage("migrate", "--noinput", "--skip-checks", var_dir=var_dir, database=database)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert _mode(database) == "0o600"
    # The WAL and shared-memory files exist while a connection is open: write through Django, look, then close.
    probe = ("import os, stat; from django.db import connection; c = connection.cursor(); "
             "c.execute('CREATE TABLE probe (x)'); c.execute('INSERT INTO probe VALUES (1)'); "
             f"print(*(oct(stat.S_IMODE(os.stat('{database}' + s).st_mode)) for s in ('', '-wal', '-shm')))")
    looked = _manage("shell", "-c", probe, var_dir=var_dir, database=database)
    assert looked.returncode == 0, looked.stderr[-3000:]
    assert looked.stdout.strip().splitlines()[-1].split() == ["0o600", "0o600", "0o600"]  # database, -wal, -shm
    assert _mode(var_dir / "secret_key") == "0o600"  # as it always was


def test_an_existing_world_readable_sqlite_database_is_made_owner_only(tmp_path):
    """Databases made by an earlier release were 0644; the next start closes them."""
    var_dir, database = tmp_path / "var", tmp_path / "var" / "quire.sqlite3"
    var_dir.mkdir()
    database.touch(mode=0o644)
    database.chmod(0o644)
    started = _manage("shell", "-c", "from django.db import connection; connection.ensure_connection()",
                      var_dir=var_dir, database=database)
    assert started.returncode == 0, started.stderr[-3000:]
    assert _mode(database) == "0o600"


# --- Originals and page images -------------------------------------------------------------------------------

def _a_one_page_pdf() -> bytes:
    import pypdfium2

    pdf = pypdfium2.PdfDocument.new()
    pdf.new_page(300, 400)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def _cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_the_original_is_served_private_and_never_stored(world, client_for, api_for):
    page = client_for(world.viewer).get(reverse("documents:file", args=[world.document.id]))
    assert page.status_code == 200 and b"".join(page.streaming_content) == b"Our own agreement."
    assert {"private", "no-store"} <= _cache_control(page)
    api = api_for(world.viewer).get(f"/api/v1/documents/{world.document.id}/file/")
    assert api.status_code == 200 and b"".join(api.streaming_content) == b"Our own agreement."
    assert {"private", "no-store"} <= _cache_control(api)


def test_page_images_are_served_private_and_never_stored(world, client_for, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    document = factories.make_document(world.workspace, content=_a_one_page_pdf(), original_name="one.pdf")
    Document.objects.filter(pk=document.pk).update(kind="pdf", page_count=1)
    response = client_for(world.viewer).get(reverse("documents:page_image", args=[document.id, 1]))
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert {"private", "no-store"} <= _cache_control(response)
    assert not {"immutable", "public"} & _cache_control(response)
    assert not any(part.startswith("max-age=") and part != "max-age=0" for part in _cache_control(response))


# --- Tokens in logs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kept", [
    (f"/accounts/reset/MQ/{RESET_TOKEN}/", "/accounts/reset/MQ/"),
    (f"https://quire.example/invites/{INVITE_TOKEN}/", "https://quire.example/invites/"),
    (f"/feeds/{FEED_TOKEN}.ics", "/feeds/"),
    (f'GET /accounts/login/?next=%2Finvites%2F{INVITE_TOKEN}%2F HTTP/1.1', "/accounts/login/?next=%2Finvites%2F"),
    (f"/accounts/oidc/quire/login/callback/?code={CODE_TOKEN}&state=xyz", "/accounts/oidc/quire/login/callback/?code="),
    (f"/feeds/x.ics?token={FEED_TOKEN}", "/feeds/"),
    (f"/accounts/password/reset/key/1-{RESET_TOKEN}/", "/accounts/password/reset/key/"),
    (f"/accounts/confirm-email/{INVITE_TOKEN}/", "/accounts/confirm-email/"),
])
def test_log_redaction_takes_the_token_out_of_a_url(text, kept):
    from webapp.logs import redact_secrets

    redacted = redact_secrets(text)
    assert not any(token in redacted for token in TOKENS), redacted
    assert redacted.startswith(kept) or kept in redacted
    assert "[redacted]" in redacted


@pytest.mark.parametrize("text", [
    "/accounts/reset/MQ/set-password/",  # Django's token-free second step
    "/w/6f1c0a7e-2b0d-4a55-9f3e-1c2d3e4f5a6b/playbooks/contract/reset/",
    "/d/6f1c0a7e-2b0d-4a55-9f3e-1c2d3e4f5a6b/report/?risk=high&page=2",
    "/accounts/login/?next=%2Fw%2F6f1c0a7e-2b0d-4a55-9f3e-1c2d3e4f5a6b%2F",
    'GET /static/app.css HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
])
def test_log_redaction_leaves_urls_without_tokens_alone(text):
    from webapp.logs import redact_secrets

    assert redact_secrets(text) == text


@pytest.fixture
def console_log():
    """What Quire's own log handler (settings.LOGGING's "console") writes, captured."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def test_django_request_log_lines_hold_no_token(world, client_for, console_log):
    client = client_for(world.viewer)
    assert client.get(f"/invites/{INVITE_TOKEN}/").status_code == 410  # no such invitation: Django logs "Gone: <path>"
    assert Client().get(f"/feeds/{FEED_TOKEN}.ics").status_code == 404  # logs "Not Found: <path>"
    logging.getLogger("webapp").warning("odd link %s", f"/accounts/reset/MQ/{RESET_TOKEN}/")
    written = console_log.getvalue()
    assert "/invites/[redacted]/" in written and "/feeds/[redacted].ics" in written
    assert "/accounts/reset/MQ/[redacted]/" in written
    assert not any(token in written for token in TOKENS), written


def _dockerfile_web_command() -> list[str]:
    [cmd] = re.findall(r"^CMD (\[.*\])$", (REPO / "Dockerfile").read_text(), re.M)[-1:]
    return json.loads(cmd)


def _option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def test_every_gunicorn_command_uses_the_redacting_logger():
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    embedded = (REPO / "webapp" / "embedded.py").read_text()
    assert _option(_dockerfile_web_command(), "--logger-class") == "webapp.logs.GunicornLogger"
    assert _option(compose["services"]["web"]["command"], "--logger-class") == "webapp.logs.GunicornLogger"
    assert re.search(r'"--logger-class",\s*"webapp\.logs\.GunicornLogger"', embedded)


def test_a_real_gunicorn_access_log_holds_no_token(db, tmp_path):
    """The image's own gunicorn command, on a free port, with its access log in a file."""
    from django.db import connection

    command = _dockerfile_web_command()
    assert command[0] == "gunicorn"
    port = free_port()
    for name, value in (("--bind", f"127.0.0.1:{port}"), ("--workers", "1"),
                        ("--access-logfile", str(tmp_path / "access.log"))):
        if name in command:
            command[command.index(name) + 1] = value
        else:
            command += [name, value]
    command += ["--error-logfile", str(tmp_path / "error.log")]
    env = dict(os.environ, DATABASE_URL=_test_database_url(connection.settings_dict["NAME"]), QUIRE_HTTPS="false")
    server = subprocess.Popen([sys.executable, "-m", *command], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "error.log").read_text()
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=30) as client:
            invited = client.get(f"/invites/{INVITE_TOKEN}/", follow_redirects=True)  # to the log-in page, token in next=
            assert invited.status_code == 200 and INVITE_TOKEN in str(invited.url)
            assert client.get(f"/feeds/{FEED_TOKEN}.ics").status_code == 404
            assert client.get(f"/accounts/reset/MQ/{RESET_TOKEN}/").status_code == 200  # "this link is invalid"
            # The page after a reset link names it in Referer (Referrer-Policy: same-origin).
            client.get("/accounts/login/", headers={"Referer": f"{url}/accounts/reset/MQ/{RESET_TOKEN}/"})
            client.get(f"/accounts/login/?code={CODE_TOKEN}&state=s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    access = (tmp_path / "access.log").read_text()
    errors = (tmp_path / "error.log").read_text()
    assert len(access.splitlines()) >= 7, access  # healthz, invite, login, feed, reset, login twice
    for path in ("/invites/[redacted]/", "/feeds/[redacted].ics", "/accounts/reset/MQ/[redacted]/",
                 "?next=/invites/[redacted]/"):
        assert path in access, access
    assert not any(token in access or token in errors for token in TOKENS), access

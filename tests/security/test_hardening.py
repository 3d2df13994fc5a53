"""Headers, cookies, lockout, task serialisation and data removal: the settings a deployment relies on."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.security


def test_pages_send_a_csp_without_inline_scripts(world, client_for):
    response = client_for(world.owner).get(reverse("workspaces:detail", args=[world.workspace.id]))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and "unsafe" not in policy
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_templates_hold_no_inline_script_or_handler():
    """The CSP would block them in the browser; better to find them here."""
    import re
    from pathlib import Path

    offenders = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text) or " style=" in text:
            offenders.append(path.name)
    assert not offenders


def test_task_messages_are_json_only():
    from webapp.celery import app

    assert app.conf.task_serializer == "json" and app.conf.result_serializer == "json"
    assert set(app.conf.accept_content) == {"json"}


def test_login_locks_out_after_repeated_failures(world, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    url = reverse("account_login")
    for _ in range(3):
        client.post(url, {"login": world.viewer.username, "password": "guess"})
    locked = client.post(url, {"login": world.viewer.username, "password": factories.PASSWORD})
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    assert "_auth_user_id" not in client.session
    # Another address is not locked out by someone else's guessing.
    other = Client(REMOTE_ADDR="198.51.100.9")
    other.post(url, {"login": world.viewer.username, "password": factories.PASSWORD})
    assert other.session.get("_auth_user_id") == str(world.viewer.pk)


def test_production_cookies_are_secure():
    import subprocess
    import sys

    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings'; django.setup();"
            "from django.conf import settings as s;"
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS > 0)")
    env = {k: v for k, v in os.environ.items() if k not in ("QUIRE_HTTPS", "DJANGO_SETTINGS_MODULE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["True", "True", "True", "True"]


def test_deleting_a_document_removes_its_file_and_rows(world, client_for, django_capture_on_commit_callbacks):
    from webapp.documents.models import DocumentPage
    from webapp.reports.models import Report

    document = world.document
    DocumentPage.objects.create(document=document, number=1, start=0, end=5)
    name = document.file.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world.editor).post(reverse("documents:delete", args=[document.id]))
    assert not default_storage.exists(name)
    assert not DocumentPage.objects.filter(document_id=document.id).exists()
    assert not Report.objects.filter(document_id=document.id).exists()


def test_deleting_a_workspace_removes_every_document_file(world, client_for, django_capture_on_commit_callbacks):
    from webapp.documents.models import Document

    second = factories.make_document(world.workspace, content=b"second body", original_name="second.txt")
    names = [world.document.file.name, second.file.name]
    foreign_name = world.foreign_document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.owner).post(reverse("workspaces:delete", args=[world.workspace.id]),
                                                {"confirm": "Acme contracts"})
    assert response.status_code == 302
    assert not any(default_storage.exists(n) for n in names)
    assert not Document.objects.filter(workspace_id=world.workspace.id).exists()
    assert default_storage.exists(foreign_name)  # nobody else's files


def test_workspace_delete_needs_the_name_typed(world, client_for):
    from webapp.workspaces.models import Workspace

    client_for(world.owner).post(reverse("workspaces:delete", args=[world.workspace.id]), {"confirm": "acme"})
    assert Workspace.objects.filter(pk=world.workspace.pk).exists()


def test_page_writes_without_a_csrf_token_are_refused(world):
    from webapp.workspaces.models import Workspace

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.owner)
    for url, data in ((reverse("workspaces:list"), {"name": "Forged"}),
                      (reverse("documents:delete", args=[world.document.id]), {}),
                      (reverse("tokens"), {"name": "forged"})):
        assert browser.post(url, data).status_code == 403, url
    assert not Workspace.objects.filter(name="Forged").exists()
    assert world.document.__class__.objects.filter(pk=world.document.pk).exists()

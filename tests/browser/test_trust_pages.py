"""The account and owner pages in a real browser under the content security policy (the page fixture
fails a test on any CSP violation): make an API token and use it, read the audit trail, and delete a
document through the confirm prompt that replaced an inline handler."""

from __future__ import annotations

import httpx
import pytest

from tests import factories
from tests.browser.test_upload_page import _log_in
from webapp.documents.models import Document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_token_audit_and_confirmed_delete(page, live_server):
    owner = factories.make_user("tess")
    workspace = factories.make_workspace(owner, name="Trusted team")
    document = factories.make_document(workspace, content=b"A contract to delete.", original_name="old.txt")
    _log_in(page, live_server, owner)

    page.goto(f"{live_server.url}/accounts/tokens/")
    page.fill("input[name=name]", "browser-made")
    page.click("form button[type=submit]")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("qk_")
    me = httpx.get(f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "tess"

    page.goto(f"{live_server.url}/d/{document.id}/")
    page.once("dialog", lambda dialog: dialog.dismiss())  # "Cancel": nothing happens
    page.click("button:has-text('Delete document')")
    assert Document.objects.filter(pk=document.pk).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete document')")
    page.wait_for_url(f"{live_server.url}/w/{workspace.id}/")
    assert not Document.objects.filter(pk=document.pk).exists()

    page.goto(f"{live_server.url}/w/{workspace.id}/members/")
    page.click("a:has-text('Who did what in this workspace')")
    trail = " ".join(page.locator("table.audit tbody tr").all_inner_texts())
    assert "Deleted document" in trail and "old.txt" in trail and "tess@example.com" in trail

    page.goto(f"{live_server.url}/accounts/tokens/")
    account = " ".join(page.locator("table.account-events tbody tr").all_inner_texts())
    assert "Created API token" in account and "browser-made" in account and "Logged in" in account

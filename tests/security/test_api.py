"""The API's contract: bearer tokens (hashed, revocable), session with CSRF, one error body, pagination
and filters, uploads through the same service and limits as the page."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories
from webapp.api.models import ApiToken
from webapp.api.tokens import token_create, token_revoke

pytestmark = pytest.mark.security


def test_token_is_stored_only_as_a_hash_and_works_until_revoked(world):
    new = token_create(user=world.owner, name="script")
    row = ApiToken.objects.get(pk=new.token.pk)
    assert new.raw not in (row.key_hash, row.prefix, row.name)
    assert row.key_hash == hashlib.sha256(new.raw.encode()).hexdigest()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {new.raw}")
    assert api.get(reverse("api:me")).json()["email"] == world.owner.email
    token_revoke(user=world.owner, token_id=row.pk)
    refused = api.get(reverse("api:me"))
    assert refused.status_code == 401
    assert refused.json() == {"error": {"status": 401, "code": "authentication_failed",
                                        "message": "The token is not valid or has been revoked."}}


@pytest.mark.parametrize("header", ["Bearer", "Bearer qk_nope", "Bearer a b", "Basic Zm9vOmJhcg==", "Bearer \u00e9"])
def test_bad_credentials_get_401_with_one_error_body(db, header):
    response = Client(HTTP_AUTHORIZATION=header).get(reverse("api:workspace-list"))
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"status", "code", "message"}


def test_token_page_shows_the_token_once(world, client_for):
    client = client_for(world.owner)
    first = client.post(reverse("tokens"), {"name": "ci"})
    raw = first.context["created"].raw
    assert raw.encode() in first.content and first["Cache-Control"] == "no-store"
    assert b"<title>API tokens \xc2\xb7 Quire</title>" in first.content
    assert raw.encode() not in client.get(reverse("tokens")).content


def test_session_writes_need_csrf_token_writes_do_not(world, api_for):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.owner)
    url = reverse("api:workspace-list")
    refused = browser.post(url, {"name": "No CSRF"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert api_for(world.owner).post(url, {"name": "Scripted"}, content_type="application/json").status_code == 201


def test_validation_errors_name_their_fields(world, api_for):
    response = api_for(world.owner).post(reverse("api:workspace-list"), {}, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "name" in error["fields"]


def test_documents_paginate_and_filter(world, api_for):
    for i in range(3):
        factories.make_document(world.workspace, content=f"body {i}".encode(), original_name=f"lease-{i}.txt",
                                status="failed" if i == 2 else "ready")
    api = api_for(world.owner)
    url = reverse("api:document-list", args=[world.workspace.id])
    page = api.get(url, {"page_size": 2}).json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    assert [d["name"] for d in api.get(url, {"q": "LEASE"}).json()["results"]] == ["lease-2.txt", "lease-1.txt", "lease-0.txt"]
    assert [d["name"] for d in api.get(url, {"status": "failed"}).json()["results"]] == ["lease-2.txt"]
    assert api.get(url, {"page": 99}).status_code == 404


def test_api_upload_uses_the_pages_rules(world, api_for, settings):
    api = api_for(world.editor)
    url = reverse("api:document-list", args=[world.workspace.id])
    f = io.BytesIO(b"An agreement uploaded by a script, signed.")
    f.name = "scripted.txt"
    body = api.post(url, {"files": [f]}).json()
    assert body["results"][0]["outcome"] == "stored" and body["results"][0]["document"]["name"] == "scripted.txt"
    empty = io.BytesIO(b"")
    empty.name = "empty.txt"
    assert api.post(url, {"files": [empty]}).json()["results"][0]["outcome"] == "rejected"
    assert api.post(url, {}).status_code == 400


def test_upload_rate_limit_per_user(world, api_for, client_for, settings):
    settings.QUIRE_UPLOADS_PER_HOUR = 2
    factories.make_document(world.workspace, content=b"one", original_name="1.txt", uploaded_by=world.editor)
    factories.make_document(world.workspace, content=b"two", original_name="2.txt", uploaded_by=world.editor)
    f = io.BytesIO(b"A third agreement, over the limit.")
    f.name = "3.txt"
    response = api_for(world.editor).post(reverse("api:document-list", args=[world.workspace.id]), {"files": [f]})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"
    page = client_for(world.editor).post(reverse("documents:upload", args=[world.workspace.id]), {"files": [f]},
                                         HTTP_ACCEPT="application/json")
    assert page.status_code == 429
    assert not world.workspace.documents.filter(original_name="3.txt").exists()
    # Another user is not limited by the editor's uploads.
    assert client_for(world.owner).post(reverse("documents:upload", args=[world.workspace.id]),
                                        {"files": [f]}, HTTP_ACCEPT="application/json").status_code == 200


def test_schema_is_served_at_a_stable_url(db):
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in ("/api/v1/workspaces/", "/api/v1/workspaces/{workspace_id}/documents/",
                 "/api/v1/documents/{document_id}/report/", "/api/v1/workspaces/{workspace_id}/audit/"):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A personal API token (qk_…) from the API tokens page."}

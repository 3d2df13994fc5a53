"""What the outside probe sent (issue 26): JSON nested thousands of levels deep, and uploads with more files than
QUIRE_MAX_FILES_PER_UPLOAD. Each must answer a readable 400 with the documented error body, never a 500, a
traceback in the log or Django's bare "Bad Request (400)" page."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from webapp.reports.models import WorkspacePlaybook

pytestmark = pytest.mark.security

DEPTH = 2000
NESTINGS = {
    "arrays": "[" * DEPTH + "]" * DEPTH,
    "objects": '{"a":' * DEPTH + "1" + "}" * DEPTH,
}


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def _errors_logged(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def _files(count: int) -> list[io.BytesIO]:
    files = []
    for n in range(count):
        f = io.BytesIO(f"Agreement number {n}, signed by both parties.".encode())
        f.name = f"agreement-{n}.txt"
        files.append(f)
    return files


# --- Deeply nested JSON -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NESTINGS)
def test_deeply_nested_json_creating_a_workspace_answers_400_with_the_error_body(world, api_for, caplog, kind):
    caplog.set_level(logging.INFO)
    response = api_for(world.owner).post(reverse("api:workspace-list"), NESTINGS[kind], content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and error["code"] == "too_deep"
    assert "nested deeper than 64 levels" in error["message"]
    assert not _errors_logged(caplog)


def test_deeply_nested_json_asking_a_follow_up_answers_400(world, api_for, caplog):
    caplog.set_level(logging.INFO)
    url = reverse("api:followup-list", args=[world.document.id])
    body = '{"question": ' + NESTINGS["objects"] + "}"
    response = api_for(world.editor).post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_deep"
    assert not world.document.followups.exists()
    assert not _errors_logged(caplog)


def test_nesting_just_past_the_limit_is_refused_and_malformed_json_still_says_so(world, api_for):
    api = api_for(world.owner)
    url = reverse("api:workspace-list")
    refused = api.post(url, '{"name": "Deep", "x": ' + _nested(64) + "}", content_type="application/json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "too_deep"
    broken = api.post(url, '{"name": ', content_type="application/json")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "parse_error"


def test_moderate_nesting_and_brackets_inside_strings_still_work(world, api_for):
    api = api_for(world.owner)
    url = reverse("api:workspace-list")
    # 63 levels of extra (ignored) data plus the body's own object: 64, the most accepted.
    nested = api.post(url, '{"name": "Nested", "x": ' + _nested(63) + "}", content_type="application/json")
    assert nested.status_code == 201 and nested.json()["name"] == "Nested"
    # Brackets inside a string are text, not nesting.
    name = "[" * 100 + "{"
    quoted = api.post(url, json.dumps({"name": name, "note": "}" * 500 + '\\"[[['}), content_type="application/json")
    assert quoted.status_code == 201 and quoted.json()["name"] == name


@pytest.mark.parametrize("kind", NESTINGS)
def test_deeply_nested_playbook_in_the_editor_is_refused_with_a_readable_page(world, client_for, caplog, kind):
    caplog.set_level(logging.INFO)
    url = reverse("reports:playbook_edit", args=[world.workspace.id, "contract"])
    response = client_for(world.editor).post(url, {"definition": NESTINGS[kind]})
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.content.decode()
    assert escape(NESTINGS[kind]) in response.content.decode()  # the editor keeps what was typed, to fix it
    assert not WorkspacePlaybook.objects.filter(workspace=world.workspace).exists()
    assert not _errors_logged(caplog)


def test_a_valid_playbook_edit_still_saves(world, client_for):
    from webapp.reports.playbooks import playbook_definition_json

    url = reverse("reports:playbook_edit", args=[world.workspace.id, "contract"])
    definition = json.loads(playbook_definition_json(workspace=world.workspace, name="contract"))
    definition["title"] = "Contract review, our way"
    response = client_for(world.editor).post(url, {"definition": json.dumps(definition)})
    assert response.status_code == 302
    assert WorkspacePlaybook.objects.get(workspace=world.workspace, name="contract").definition["title"] == (
        "Contract review, our way")


# --- Too many files in one upload ---------------------------------------------------------------------------------


def _browser_for(user) -> Client:
    """A client that checks CSRF as the browser's upload does (token in the X-CSRFToken header)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _browser_post(client: Client, workspace, files, *, json_answer: bool = True):
    client.get(reverse("workspaces:detail", args=[workspace.id]))  # sets the CSRF cookie
    headers = {"X-CSRFToken": client.cookies["csrftoken"].value}
    if json_answer:
        headers["Accept"] = "application/json"
    return client.post(reverse("documents:upload", args=[workspace.id]), {"files": files}, headers=headers)


def _assert_too_many_files(response, limit: int) -> None:
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == {
        "status": 400, "code": "too_many_files", "message": f"At most {limit} files per upload.", "limit": limit}


def test_upload_page_with_too_many_files_answers_json_naming_the_limit(world, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    caplog.set_level(logging.INFO)
    response = _browser_post(_browser_for(world.editor), world.workspace, _files(4))
    _assert_too_many_files(response, 3)
    assert not world.workspace.documents.filter(original_name__startswith="agreement-").exists()
    assert not _errors_logged(caplog)


def test_upload_page_at_the_file_limit_still_stores_every_file(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    response = _browser_post(_browser_for(world.editor), world.workspace, _files(3))
    assert response.status_code == 200
    assert [r["outcome"] for r in response.json()["results"]] == ["stored"] * 3


def test_plain_upload_form_with_too_many_files_says_the_limit_on_the_page(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    client = _browser_for(world.editor)
    response = _browser_post(client, world.workspace, _files(4), json_answer=False)
    assert response.status_code == 302 and response["Location"] == reverse("workspaces:detail", args=[world.workspace.id])
    page = client.get(response["Location"]).content.decode()
    assert "At most 3 files per upload." in page


def test_api_upload_with_too_many_files_answers_the_error_body_with_the_limit(world, api_for, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    caplog.set_level(logging.INFO)
    url = reverse("api:document-list", args=[world.workspace.id])
    _assert_too_many_files(api_for(world.editor).post(url, {"files": _files(4)}), 3)
    assert not world.workspace.documents.filter(original_name__startswith="agreement-").exists()
    assert not _errors_logged(caplog)
    at_limit = api_for(world.editor).post(url, {"files": _files(3)})
    assert at_limit.status_code == 201 and len(at_limit.json()["results"]) == 3

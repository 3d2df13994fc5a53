"""The API's workspace table and batch runs, over real CUAD contracts ingested and read: first-pass cells where no
model has read a document, findings where one has, filters and keyset pages; batches queued, skipped with their
reasons, followed, cancelled and run again; and who may do what (viewers read, outsiders get 404)."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from analysis.playbooks import load
from tests import factories
from webapp.documents.models import Document
from webapp.reports.models import Analysis, AnalysisStatus
from webapp.tables.columns import table_columns
from webapp.tables.models import BatchRun
from webapp.tables.query import PER_PAGE, cursor_encode

CONTRACTS = factories.TABLE_CONTRACTS
NOT_READY = "The document must be ready (ingested) before it can be analysed."
TITLE = load("contract").title




def api(user) -> Client:
    from webapp.api.tokens import token_create

    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='tests').raw}")




def _table(client, workspace, **params) -> dict:
    response = client.get(reverse("api:workspace-table", args=[workspace.id]), params)
    assert response.status_code == 200, response.content
    return response.json()


def _row(body: dict, name: str) -> dict:
    return next(r for r in body["rows"] if r["document"]["name"] == name)


def test_the_table_shows_first_pass_cells_where_no_model_has_read_and_findings_where_one_has(owner, workspace, contracts):
    analysis = factories.make_ready_analysis(contracts[1], {"governing_law": ("Laws of the State of Nevada", "low", True)})
    body = _table(api(owner), workspace, sort="name")
    assert body["columns"] == [{"key": c.key, "title": c.title} for c in table_columns(load("contract"))]
    assert body["total"] == 3 and body["next"] is None
    assert [r["document"]["name"] for r in body["rows"]] == sorted(f"{n}.txt" for n in CONTRACTS)

    unread = _row(body, f"{CONTRACTS[0]}.txt")
    assert unread["document"] == {"id": str(contracts[0].id), "name": f"{CONTRACTS[0]}.txt", "status": "ready"}
    assert (unread["source"], unread["analysis"], unread["run"]) == ("first_pass", None, None)
    assert set(unread["cells"]) == {c["key"] for c in body["columns"]}
    law = unread["cells"]["governing_law"]
    assert law["source"] == "first_pass" and law["present"] and law["score"] >= 0.5 and law["finding"] is None
    assert "laws of" in law["text"].lower() and "israel" in law["text"].lower()
    assert re.fullmatch(rf"/d/{contracts[0].id}/report/\?pages=\d+#page-\d+", law["url"])

    read = _row(body, f"{CONTRACTS[1]}.txt")
    assert (read["source"], read["analysis"]) == ("model", str(analysis.id))
    cell = read["cells"]["governing_law"]
    finding = analysis.findings.get()
    assert cell == {"source": "finding", "text": "Laws of the State of Nevada", "present": True, "risk": "low",
                    "verified": 1, "score": None, "review_state": finding.review_state, "finding": finding.id,
                    "assigned_to": "",
                    "url": f"/d/{contracts[1].id}/report/?analysis={analysis.id}#finding-{finding.id}"}
    assert read["cells"]["change_of_control"] is None  # the model did not answer it: an empty cell, not the first pass


def test_a_cell_filter_narrows_the_rows_and_next_pages_through_every_row_once(owner, workspace, contracts):
    client = api(owner)
    israel = _table(client, workspace, f0_col="governing_law", f0_op="contains", f0_val="Israel")
    assert [r["document"]["name"] for r in israel["rows"]] == [f"{CONTRACTS[0]}.txt"] and israel["total"] == 1
    present = _table(client, workspace, f0_col="governing_law", f0_op="present")["total"]
    absent = _table(client, workspace, f0_col="governing_law", f0_op="absent")["total"]
    assert present + absent == 3 and present >= 1

    for n in range(PER_PAGE):  # enough rows for a second page
        factories.make_document(workspace, content=f"Filler {n}.".encode(), original_name=f"filler-{n:02}.txt")
    first = _table(client, workspace, sort="name")
    assert first["total"] == PER_PAGE + 3 and len(first["rows"]) == PER_PAGE and first["next"]
    second = _table(client, workspace, sort="name", after=first["next"])
    assert second["next"] is None and second["total"] == PER_PAGE + 3
    names = [r["document"]["name"] for r in first["rows"] + second["rows"]]
    assert names == sorted(f"{n}.txt" for n in CONTRACTS) + [f"filler-{n:02}.txt" for n in range(PER_PAGE)]
    # The filters travel with the cursor; a forged cursor starts from the top instead of failing.
    assert _table(client, workspace, name="filler", sort="name")["total"] == PER_PAGE
    forged = _table(client, workspace, sort="name", after=cursor_encode("x", "not-a-uuid"))
    assert [r["document"]["name"] for r in forged["rows"]] == names[:PER_PAGE]
    impossible_date = _table(client, workspace, after=cursor_encode("2020-13-45T00:00:00", str(contracts[0].id)))
    assert len(impossible_date["rows"]) == PER_PAGE
    # NUL characters (PostgreSQL refuses them in text) are taken out, not sent to the database.
    nul = _table(client, workspace, name="filler\x00", f0_col="governing_law", f0_op="contains", f0_val="\x00")
    assert nul["total"] == PER_PAGE


def test_a_batch_queues_ready_documents_skips_the_rest_with_the_reason_and_is_cancelled_and_rerun(
        owner, workspace, contracts, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "openai", "served/model"
    sent = []
    monkeypatch.setattr("webapp.pipeline.queue.analysis_enqueue", lambda *, analysis_id: sent.append(str(analysis_id)))
    Document.objects.filter(pk=contracts[2].pk).update(status="failed")  # not ready: skipped, with the reason
    client = api(owner)
    runs = reverse("api:batch-run-list", args=[workspace.id])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(runs, {"playbook": "contract", "documents": [str(d.id) for d in contracts]},
                               content_type="application/json")
    assert response.status_code == 202, response.content
    batch = response.json()
    assert (batch["playbook_name"], batch["playbook_title"], batch["requested_by"]) == (
        "contract", TITLE, owner.email)
    assert batch["skipped"] == {NOT_READY: 1}
    assert {k: batch["progress"][k] for k in ("total", "queued", "percent", "finished")} == {
        "total": 2, "queued": 2, "percent": 0, "finished": False}
    queued = Analysis.objects.filter(batch_runs__id=batch["id"])
    assert sorted(sent) == sorted(str(a.id) for a in queued)
    assert {a.document_id for a in queued} == {contracts[0].id, contracts[1].id}

    # "all": every document of the workspace; the two already queued and the failed one are skipped, each counted.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(runs, {"playbook": "contract", "all": True}, content_type="application/json")
    assert again.status_code == 202 and again.json()["progress"]["total"] == 0
    assert again.json()["skipped"] == {NOT_READY: 1, f"“{TITLE}” is already queued or running for this document.": 2}
    assert len(sent) == 2
    listed = client.get(runs).json()
    assert [b["id"] for b in listed["results"]] == [again.json()["id"], batch["id"]] and listed["count"] == 2

    first, second = queued.order_by("document__original_name")
    Analysis.objects.filter(pk=first.pk).update(status=AnalysisStatus.FAILED, error_message="The server went away.")
    Analysis.objects.filter(pk=second.pk).update(status=AnalysisStatus.RUNNING, progress=50)
    detail = client.get(reverse("api:batch-run-detail", args=[batch["id"]])).json()
    assert {k: detail["progress"][k] for k in ("failed", "running", "percent")} == {"failed": 1, "running": 1, "percent": 75}
    assert detail["skipped"] == {NOT_READY: 1}
    run = _row(_table(client, workspace), f"{CONTRACTS[0]}.txt")["run"]
    assert run == {"analysis": str(first.id), "status": "failed", "progress": 0, "stage": first.stage,
                   "error": "The server went away."}

    cancelled = client.post(reverse("api:batch-run-cancel", args=[batch["id"]]))
    assert cancelled.status_code == 202 and cancelled.json()["cancelled_at"]
    assert Analysis.objects.get(pk=second.pk).cancel_requested
    with django_capture_on_commit_callbacks(execute=True):
        rerun = client.post(reverse("api:batch-run-rerun", args=[batch["id"]]))
    assert rerun.status_code == 202 and rerun.json()["progress"]["total"] == 3 and len(sent) == 3
    retried = Analysis.objects.get(pk=sent[-1])
    assert (retried.document_id, retried.status) == (first.document_id, AnalysisStatus.QUEUED)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("api:batch-run-rerun", args=[batch["id"]])).json()["progress"]["total"] == 3
    assert len(sent) == 3  # the failed one was run again once already


def test_a_batch_request_naming_no_documents_or_a_foreign_one_is_refused_and_queues_nothing(owner, workspace, settings):
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "openai", "served/model"
    mine = factories.make_document(workspace)
    theirs = factories.make_document(factories.make_workspace(name="Elsewhere"))
    client = api(owner)
    runs = reverse("api:batch-run-list", args=[workspace.id])
    for body in ({"playbook": "contract"}, {"playbook": "contract", "documents": []},
                 {"playbook": "contract", "documents": [str(mine.id)], "all": True},
                 {"playbook": "contract", "documents": ["not-an-id"]},
                 {"playbook": "contract", "documents": [str(mine.id), str(theirs.id)]}):
        response = client.post(runs, body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        error = response.json()["error"]
        assert (error["status"], error["code"]) == (400, "invalid") and "documents" in error["fields"], body
    assert str(theirs.id) in str(response.json()["error"]["fields"]["documents"])
    unknown = client.post(runs, {"playbook": "no-such-playbook", "all": True}, content_type="application/json")
    assert unknown.status_code == 400 and unknown.json()["error"]["status"] == 400
    assert not BatchRun.objects.exists() and not Analysis.objects.exists()


def test_viewers_read_tables_and_batches_but_may_not_run_them_and_outsiders_get_404_everywhere(owner, workspace, settings):
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "openai", "served/model"
    document = factories.make_document(workspace)
    batch = BatchRun.objects.create(workspace=workspace, playbook_name="contract", playbook_title="Contract review")
    viewer, outsider = factories.make_user("vera"), factories.make_user("otto")
    factories.add_member(workspace, viewer, "viewer")
    factories.make_workspace(outsider, name="Otto's")
    start = {"playbook": "contract", "documents": [str(document.id)]}
    reads = [reverse("api:workspace-table", args=[workspace.id]), reverse("api:batch-run-list", args=[workspace.id]),
             reverse("api:batch-run-detail", args=[batch.id])]
    writes = [(reverse("api:batch-run-list", args=[workspace.id]), start),
              (reverse("api:batch-run-cancel", args=[batch.id]), {}),
              (reverse("api:batch-run-rerun", args=[batch.id]), {})]

    as_viewer = api(viewer)
    for url in reads:
        assert as_viewer.get(url).status_code == 200, url
    for url, body in writes:
        response = as_viewer.post(url, body, content_type="application/json")
        assert response.status_code == 403, url
        assert response.json()["error"]["status"] == 403 and response.json()["error"]["code"] == "permission_denied"

    as_outsider = api(outsider)
    answers = [as_outsider.get(url) for url in reads]
    answers += [as_outsider.post(url, body, content_type="application/json") for url, body in writes]
    for response in answers:
        assert response.status_code == 404
        assert response.json() == {"error": {"status": 404, "code": "not_found", "message": "Not found."}}
        assert "Acme" not in response.content.decode() and str(document.id) not in response.content.decode()
    assert not Analysis.objects.exists()
    batch.refresh_from_db()
    assert batch.cancelled_at is None

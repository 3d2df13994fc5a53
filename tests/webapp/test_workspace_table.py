"""The workspace table: documents down the side, a playbook's items across; first-pass cells where no model has read
a document, the model's findings where one has; filters and sorts on cell values; keyset pages; exports reopened by
openpyxl; batch runs; and the access rules of every other page."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from django.urls import reverse

from tests import factories
from webapp.documents.models import Document
from webapp.pipeline import ingest, reading
from webapp.reports.models import Analysis, AnalysisStatus, Finding
from webapp.tables import batches
from webapp.tables.columns import table_columns
from webapp.tables.models import BatchRun
from webapp.tables.query import CellFilter, TableQuery, parse_table_query
from webapp.tables.selectors import table_page
from analysis.playbooks import load

CONTRACTS = factories.TABLE_CONTRACTS
COLUMNS = table_columns(load("contract"))






def _page(owner, workspace, **query):
    return table_page(user=owner, workspace=workspace, columns=COLUMNS, query=TableQuery(**query))


def _cell(row, key: str):
    return row.cells[[c.key for c in COLUMNS].index(key)]


def test_first_pass_cells_fill_the_table_where_no_model_has_read(owner, workspace, contracts):
    page = _page(owner, workspace)
    assert page.total == 3 and len(page.rows) == 3
    law = {row.document.original_name: _cell(row, "governing_law") for row in page.rows}
    ability = law[f"{CONTRACTS[0]}.txt"]
    assert ability.source == "first_pass" and ability.score >= 0.5 and "laws of" in ability.text.lower()
    assert re.search(r"/report/\?pages=\d+#page-\d+$", ability.url)
    # The cell is a span of the document: its text is where the report will show it.
    parties = _cell(next(r for r in page.rows if r.document.original_name.startswith("ABILITY")), "parties")
    assert "Ability" in parties.text or "ABILITY" in parties.text.upper()


def test_a_cell_filter_keeps_the_documents_whose_cell_says_so(owner, workspace, contracts):
    israel = _page(owner, workspace, filters=(CellFilter("governing_law", "contains", "Israel"),))
    assert [r.document.original_name for r in israel.rows] == [f"{CONTRACTS[0]}.txt"]
    present = _page(owner, workspace, filters=(CellFilter("governing_law", "present"),))
    absent = _page(owner, workspace, filters=(CellFilter("governing_law", "absent"),))
    assert present.total + absent.total == 3 and present.total >= 1


def test_findings_replace_the_first_pass_once_a_model_has_reviewed_and_filter_by_risk(owner, workspace, contracts):
    reviewed = contracts[1]
    factories.make_ready_analysis(reviewed, {"governing_law": ("Laws of the State of Nevada", "low", True),
                         "change_of_control": ("Termination on a change of control", "high", True)})
    page = _page(owner, workspace)
    row = next(r for r in page.rows if r.document.pk == reviewed.pk)
    cell = _cell(row, "governing_law")
    assert (cell.source, cell.text, cell.risk, cell.verified) == ("finding", "Laws of the State of Nevada", "low", 1)
    assert cell.url.endswith(f"?analysis={row.analysis_id}#finding-{cell.finding_id}")
    high = _page(owner, workspace, filters=(CellFilter("change_of_control", "risk", "high"),))
    assert [r.document.pk for r in high.rows] == [reviewed.pk]
    unreviewed = _page(owner, workspace, review="unreviewed")
    assert [r.document.pk for r in unreviewed.rows] == [reviewed.pk]
    Finding.objects.filter(analysis__document=reviewed).update(review_state="reviewed")
    assert _page(owner, workspace, review="unreviewed").total == 0


def test_sort_by_a_cell_and_keyset_pages_visit_every_row_once(owner, workspace, contracts):
    by_name = _page(owner, workspace, sort="name")
    assert [r.document.original_name for r in by_name.rows] == sorted(f"{n}.txt" for n in CONTRACTS)
    by_law = _page(owner, workspace, sort="governing_law")
    values = [(_cell(r, "governing_law").text if _cell(r, "governing_law") else "") for r in by_law.rows]
    assert values == sorted(values)
    seen, after = [], ""
    while True:
        page = _page(owner, workspace, sort="name", descending=True, per_page=2, after=after)
        seen += [r.document.original_name for r in page.rows]
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert seen == sorted((f"{n}.txt" for n in CONTRACTS), reverse=True)


def test_the_query_string_is_checked_before_it_reaches_the_database():
    query = parse_table_query({"f0_col": "governing_law", "f0_op": "contains", "f0_val": "Delaware",
                               "f1_col": "no_such_column", "f1_op": "present", "f2_col": "parties", "f2_op": "drop",
                               "f3_col": "audit_rights", "f3_op": "risk", "f3_val": "catastrophic",
                               "sort": "1; DROP TABLE", "playbook": "secret", "after": "not-a-cursor"},
                              columns=COLUMNS, playbooks={"contract", "report"})
    assert query.filters == (CellFilter("governing_law", "contains", "Delaware"),)
    assert (query.sort, query.playbook) == ("", "contract")


def test_the_page_renders_filters_and_links_each_cell_to_its_passage(client, owner, workspace, contracts):
    client.force_login(owner)
    url = reverse("tables:table", args=[workspace.id])
    response = client.get(url, {"f0_col": "governing_law", "f0_op": "contains", "f0_val": "Israel"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('<tr data-doc-id=') == 1 and CONTRACTS[0] in body
    assert f'href="/d/{contracts[0].id}/report/?pages=' in body


def test_names_answers_and_errors_a_document_or_model_wrote_reach_the_table_escaped(client, owner, workspace, contracts):
    """The rows are drawn in Python (webapp/tables/grid.py), not by the autoescaping template: every value from a
    filename, a model or a run's error must still arrive as text."""
    hostile = '<img src=x onerror="alert(1)">'
    Document.objects.filter(pk=contracts[0].pk).update(original_name=f"{hostile}.txt")
    factories.make_ready_analysis(contracts[1], {"governing_law": (f"Delaware {hostile}", "high", True)})
    Analysis.objects.create(document=contracts[2], playbook={"name": "contract"}, playbook_name="contract",
                            playbook_title="Contract review", playbook_version=1, engine="openai", model_id="m",
                            status=AnalysisStatus.FAILED, error_message=f"engine said {hostile}")
    client.force_login(owner)
    body = client.get(reverse("tables:table", args=[workspace.id])).content.decode()
    assert "<img src=x" not in body
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert f"{escaped}.txt</a>" in body  # the name
    assert f"Delaware {escaped}</a>" in body  # the model's answer
    assert f'<span class="error run-error">engine said {escaped}</span>' in body  # the failed run's reason
    assert 'class="small cell-review-open" data-url="/t/cells/' in body and 'risk-high' in body


def test_xlsx_and_csv_exports_reopen_with_every_row_cell_and_quote_link(client, owner, workspace, contracts):
    analysis = factories.make_ready_analysis(contracts[0], {"governing_law": ("=HYPERLINK(\"http://evil\")", "medium", True)})
    client.force_login(owner)
    response = client.get(reverse("tables:export", args=[workspace.id, "xlsx"]), {"sort": "name"})
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    table, quotes = book["Table"], book["Quotes"]
    assert table.freeze_panes == "B2" and table.auto_filter.ref.startswith("A1:")
    header = [c.value for c in table[1]]
    assert header[:4] == ["Document", "State", "Source", "Report"] and header[4:] == [c.title for c in COLUMNS]
    assert table.max_row == 4  # the header and three documents
    law = header.index("Governing Law")
    first = [c.value for c in table[2]]
    assert first[0] == f"{CONTRACTS[0]}.txt" and first[law].startswith("'=HYPERLINK")  # never a formula
    assert quotes.max_row == 2
    link = quotes.cell(row=2, column=5)
    assert link.hyperlink.target.endswith(f"/d/{contracts[0].id}/report/?analysis={analysis.id}#finding-"
                                          f"{analysis.findings.get().id}")
    rows = list(csv.reader(io.StringIO(client.get(reverse("tables:export", args=[workspace.id, "csv"])).content.decode("utf-8-sig"))))
    assert len(rows) == 4 and rows[0] == header


def test_a_batch_run_queues_one_analysis_per_ready_document_and_is_followed_cancelled_and_rerun(
        owner, workspace, contracts, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "openai", "served/model"
    sent = []
    monkeypatch.setattr("webapp.pipeline.queue.analysis_enqueue", lambda *, analysis_id: sent.append(str(analysis_id)))
    Document.objects.filter(pk=contracts[2].pk).update(status="failed")  # not ready: skipped, with the reason
    with django_capture_on_commit_callbacks(execute=True):
        batch = batches.batch_start(workspace=workspace, user=owner, playbook_name="contract",
                                    documents=Document.objects.filter(workspace=workspace))
    assert batch.analyses.count() == 2 and len(sent) == 2
    assert list(batch.skipped.values()) == [1] and "ready" in next(iter(batch.skipped))
    progress = batches.batch_progress(batch)
    assert (progress.total, progress.queued, progress.percent, progress.finished) == (2, 2, 0, False)
    first, second = batch.analyses.order_by("created_at")
    Analysis.objects.filter(pk=first.pk).update(status=AnalysisStatus.FAILED, error_message="The server went away.")
    Analysis.objects.filter(pk=second.pk).update(status=AnalysisStatus.RUNNING, progress=50)
    assert batches.batch_progress(batch).percent == 75  # one finished (100) and one half way, of two
    page = _page(owner, workspace, playbook="contract")
    runs = {r.document.pk: r.run for r in page.rows}
    assert runs[first.document_id].status == "failed" and runs[first.document_id].error == "The server went away."
    assert batches.batch_cancel(batch=batch, user=owner) == 1
    assert Analysis.objects.get(pk=second.pk).cancel_requested
    with django_capture_on_commit_callbacks(execute=True):
        assert batches.batch_rerun_failed(batch=batch, user=owner) == 1
    assert batch.analyses.count() == 3 and len(sent) == 3


def test_viewers_read_the_table_but_cannot_run_batches_and_outsiders_see_nothing(client, workspace, contracts, settings):
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "openai", "served/model"
    viewer, outsider = factories.make_user("vera"), factories.make_user("otto")
    factories.add_member(workspace, viewer, "viewer")
    batch = BatchRun.objects.create(workspace=workspace, playbook_name="contract", playbook_title="Contract review")
    client.force_login(viewer)
    assert client.get(reverse("tables:table", args=[workspace.id])).status_code == 200
    assert client.post(reverse("tables:batch_start", args=[workspace.id]), {"scope": "all"}).status_code == 403
    assert client.post(reverse("tables:batch_cancel", args=[batch.id])).status_code == 403
    assert not Analysis.objects.exists()
    client.force_login(outsider)
    for url in (reverse("tables:table", args=[workspace.id]), reverse("tables:export", args=[workspace.id, "xlsx"]),
                reverse("tables:batch_status", args=[batch.id])):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("tables:batch_start", args=[workspace.id]), {"scope": "all"}).status_code == 404
    assert client.post(reverse("tables:batch_rerun", args=[batch.id])).status_code == 404


def test_a_cell_is_reviewed_assigned_and_commented_from_the_table_and_filters_follow(client, owner, workspace, contracts):
    editor, viewer = factories.make_user("edna"), factories.make_user("vic")
    factories.add_member(workspace, editor, "editor")
    factories.add_member(workspace, viewer, "viewer")
    analysis = factories.make_ready_analysis(contracts[0], {"governing_law": ("Israel", "low", True)})
    finding = analysis.findings.get()
    table = reverse("tables:table", args=[workspace.id])
    client.force_login(editor)
    response = client.post(reverse("tables:cell_review", args=[finding.id]),
                           {"state": "disputed", "assignee": str(editor.pk), "comment": "Check clause 7.2 <b>again</b>",
                            "next": f"{table}?review=unreviewed"})
    assert response.status_code == 302 and response["Location"] == f"{table}?review=unreviewed"
    finding.refresh_from_db()
    assert (finding.review_state, finding.assigned_to, finding.comments.get().text) == (
        "disputed", editor, "Check clause 7.2 <b>again</b>")
    assert [r.document.pk for r in _page(editor, workspace, review="assigned_to_me").rows] == [contracts[0].pk]
    assert _page(owner, workspace, review="assigned_to_me").total == 0
    assert _page(owner, workspace, review="disputed").total == 1
    body = client.get(table).content.decode()
    assert "→ edna" in body and "<b>again" not in body  # the comment is on the report; nothing renders as HTML here
    # Somewhere else to go back to is refused; a non-member cannot be assigned.
    response = client.post(reverse("tables:cell_review", args=[finding.id]), {"next": "https://evil.example/"})
    assert response["Location"] == table
    outsider = factories.make_user("olga")
    client.post(reverse("tables:cell_review", args=[finding.id]), {"assignee": str(outsider.pk), "next": table})
    finding.refresh_from_db()
    assert finding.assigned_to == editor
    client.force_login(viewer)
    assert client.post(reverse("tables:cell_review", args=[finding.id]), {"state": "reviewed"}).status_code == 403
    client.force_login(outsider)
    assert client.post(reverse("tables:cell_review", args=[finding.id]), {"state": "reviewed"}).status_code == 404
    finding.refresh_from_db()
    assert finding.review_state == "disputed"


def test_a_forged_cursor_or_a_nul_in_the_query_starts_from_the_top_instead_of_failing(client, owner, workspace, contracts):
    from webapp.tables.query import cursor_encode

    client.force_login(owner)
    url = reverse("tables:table", args=[workspace.id])
    for after in (cursor_encode("2020-13-45T00:00:00", "not-a-uuid"), cursor_encode("2020-13-45T00:00:00", contracts[0].pk),
                  "%%%", cursor_encode("a\x00b", contracts[0].pk)):
        response = client.get(url, {"after": after})
        assert response.status_code == 200 and response.content.decode().count("<tr data-doc-id=") == 3, after
    assert client.get(url, {"name": "a\x00b", "f0_col": "parties", "f0_op": "contains", "f0_val": "x\x00"}).status_code == 200
    assert client.get(reverse("workspaces:detail", args=[workspace.id]), {"name": "a\x00b"}).status_code == 200


def test_documents_that_become_ready_later_join_a_batch_that_takes_them(owner, workspace, contracts, settings, monkeypatch,
                                                                       django_capture_on_commit_callbacks, corpus):
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "openai", "served/model"
    monkeypatch.setattr("webapp.pipeline.queue.analysis_enqueue", lambda *, analysis_id: None)
    ready_sent = []
    monkeypatch.setattr("webapp.pipeline.queue.document_ready", lambda *, document_id: ready_sent.append(str(document_id)))
    taking = batches.batch_start(workspace=workspace, user=owner, playbook_name="contract", auto_join=True,
                                 documents=Document.objects.filter(pk=contracts[0].pk))
    closed = batches.batch_start(workspace=workspace, user=owner, playbook_name="report",
                                 documents=Document.objects.filter(pk=contracts[0].pk))
    settings.QUIRE_ENGINE = "none"  # the new upload is read without a model, so it is ready at once
    late = factories.make_document_from_file(workspace, next((corpus / "contracts_cuad").glob("BABCOCK*.txt")), "text")
    with django_capture_on_commit_callbacks(execute=True):
        ingest.document_ingest(document_id=late.id)
        reading.report_generate(document_id=late.id)
    assert ready_sent == [str(late.id)]  # the state machine says so when the document becomes ready
    settings.QUIRE_ENGINE = "openai"
    late.refresh_from_db()
    assert batches.batches_join(document=late) == 1
    assert batch_documents(taking) == {contracts[0].pk, late.pk} and batch_documents(closed) == {contracts[0].pk}
    assert batches.batches_join(document=late) == 0  # once
    batches.batch_cancel(batch=taking, user=owner)
    taking.refresh_from_db()
    assert not taking.auto_join


def batch_documents(batch) -> set:
    return set(batch.analyses.values_list("document_id", flat=True))


def test_a_large_export_is_written_by_a_worker_and_downloaded_only_by_who_asked(client, owner, workspace, contracts,
                                                                               monkeypatch, django_capture_on_commit_callbacks):
    from webapp.tables import export_jobs
    from webapp.tables.models import TableExport

    monkeypatch.setattr(export_jobs, "DIRECT_EXPORT_ROWS", 2)  # three documents count as large here
    monkeypatch.setattr("webapp.tables.views.DIRECT_EXPORT_ROWS", 2)
    sent = []
    monkeypatch.setattr("celery.app.base.Celery.send_task", lambda self, name, args=(), **kw: sent.append((name, args)))
    client.force_login(owner)
    table = reverse("tables:table", args=[workspace.id])
    body = client.get(table, {"sort": "name"}).content.decode()
    assert "Prepare XLSX" in body and 'data-format="xlsx"' not in body  # no direct link for a large table
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tables:export_job_start", args=[workspace.id, "xlsx"]),
                               {"sort": "name", "f0_col": "governing_law", "f0_op": "present"})
    assert response.status_code == 302
    job = TableExport.objects.get()
    assert sent == [(export_jobs.EXPORT_TASK, (str(job.id),))]
    status = reverse("tables:export_job_status", args=[job.id])
    assert client.get(status).json()["terminal"] is False
    export_jobs.export_job_run(job_id=job.id)  # what the worker does
    payload = client.get(status).json()
    assert (payload["status"], payload["progress"], payload["terminal"]) == ("ready", 100, True)
    download = client.get(reverse("tables:export_job_download", args=[job.id]))
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    kept = _page(owner, workspace, filters=(CellFilter("governing_law", "present"),)).total
    assert book["Table"].max_row == kept + 1 and download["Cache-Control"] == "private, no-store"
    export_jobs.export_job_run(job_id=job.id)  # delivered twice: left alone
    colleague = factories.make_user("cole")
    factories.add_member(workspace, colleague, "editor")
    client.force_login(colleague)
    assert client.get(reverse("tables:export_job_download", args=[job.id])).status_code == 404
    assert client.get(status).status_code == 404


def test_a_team_reading_the_same_table_draws_it_once_and_any_change_redraws_it(client, owner, workspace, contracts):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from webapp.reports import review

    analysis = factories.make_ready_analysis(contracts[0], {"governing_law": ("Israel", "low", True)})
    client.force_login(owner)
    url = reverse("tables:table", args=[workspace.id])
    with CaptureQueriesContext(connection) as first:
        assert "state-open" in client.get(url).content.decode()
    with CaptureQueriesContext(connection) as second:
        client.get(url)
    assert len(second) <= len(first) - 4  # no row, finding or cell query: the drawn rows came from the cache
    review.finding_set_review_state(finding=analysis.findings.get(), user=owner, state="disputed")
    assert "state-disputed" in client.get(url).content.decode()

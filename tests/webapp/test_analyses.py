"""Playbook analyses stored and shown by the web app, driven by the scripted engine double: the upload pipeline's
automatic analysis, findings and anchors in the database, failures and cancellation, re-runs that keep earlier
analyses, follow-up questions, and who may see or do what."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from webapp.errors import AppError
from analysis.playbooks import PlaybookError
from engine.api import EngineError
from tests import factories
from tests.doubles import ScriptedEngine
from webapp.pipeline import ingest, reading
from webapp.documents.models import Document, DocumentPage, DocumentStatus
from webapp.pipeline import analyses, followups
from webapp.reports import playbooks

from webapp.reports.models import Analysis, AnalysisStatus, Anchor, FollowUp, FollowUpStatus, WorkspacePlaybook

TEXT = (
    'MASTER SUPPLY AGREEMENT\nThis Agreement is made on 1 March 2021 between Acme Corp. (the "Supplier") and '
    'Beta LLC (the "Buyer").\n\n1. Term. This Agreement shall remain in force for three (3) years.\n\n'
    "2. Governing Law. This Agreement is governed by the laws of the State of New York.\n\n"
    "3. Assignment. Neither party may assign this Agreement without the prior written consent of the other party.\n"
)
GOOD = json.dumps({"findings": [
    {"item": "parties", "present": True, "answer": "Acme Corp.; Beta LLC", "risk": "none", "risk_note": "",
     "quotes": ['Acme Corp. (the “Supplier”) and Beta LLC']},
    {"item": "governing_law", "present": True, "answer": "New York", "risk": "low", "risk_note": "Usual choice.",
     "quotes": ["governed by the laws of\nthe State of   New York", "subject to the exclusive courts of <script>Delaware</script>"]},
    {"item": "anti_assignment", "present": False, "answer": "", "risk": "none", "risk_note": "", "quotes": []},
]})


@pytest.fixture
def scripted(settings, monkeypatch):
    """The engine double in place of the configured engine, everywhere the web app builds one."""
    settings.QUIRE_ENGINE = "openai"
    settings.QUIRE_ENGINE_MODEL = "served/scripted-test-double"
    settings.QUIRE_ENGINE_DEMO = False
    engine = ScriptedEngine([])
    for module in (analyses, followups, reading):
        monkeypatch.setattr(module, "engine_from_settings", lambda: engine)
    return engine


def _uploaded(workspace, text: str = TEXT) -> Document:
    """A document through ingestion and the report step, as the worker runs them."""
    document = factories.make_document(workspace, content=text.encode(), status=DocumentStatus.QUEUED)
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    document.refresh_from_db()
    return document


def _ready_with_analysis(workspace, scripted):
    document = _uploaded(workspace)
    scripted.replies.append(GOOD)
    automatic = Analysis.objects.get(document=document)
    analyses.analysis_run(analysis_id=automatic.id)
    document.refresh_from_db()
    automatic.refresh_from_db()
    return document, automatic


def test_upload_pipeline_queues_an_automatic_contract_review_and_the_document_waits_for_it(
        scripted, workspace, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(analyses, "_enqueue", lambda analysis_id: sent.append(str(analysis_id)))
    with django_capture_on_commit_callbacks(execute=True):
        document = _uploaded(workspace)
    automatic = Analysis.objects.get(document=document)
    assert (automatic.automatic, automatic.status, automatic.playbook_name) == (True, AnalysisStatus.QUEUED, "contract")
    assert sent == [str(automatic.id)]
    assert document.status == DocumentStatus.ANALYSING and document.report.first_pass  # the report exists already
    assert automatic.model_id == "scripted-test-double" and automatic.engine == "openai"  # a name, never a path
    assert automatic.playbook["items"] and automatic.playbook_version == 1  # the playbook as it ran, kept


def test_findings_and_anchors_are_stored_on_their_exact_spans_and_pages(scripted, workspace):
    document, automatic = _ready_with_analysis(workspace, scripted)
    assert automatic.status == AnalysisStatus.READY and automatic.progress == 100
    assert (document.status, document.progress) == (DocumentStatus.READY, 100)
    assert automatic.windows == 1 and automatic.prompt_tokens > 0 and automatic.generated_tokens == len(GOOD.split())
    findings = {f.item: f for f in automatic.findings.all()}
    assert set(findings) == {"parties", "governing_law", "anti_assignment"}
    assert findings["governing_law"].category == "Governing Law" and findings["governing_law"].risk == "low"
    text = Document.objects.get(pk=document.pk).text
    law = list(findings["governing_law"].anchors.all())
    assert law[0].verified and " ".join(text[law[0].start:law[0].end].split()) == "governed by the laws of the State of New York"
    page = DocumentPage.objects.get(document=document, start__lte=law[0].start, end__gte=law[0].end)
    assert law[0].pages == [page.number]
    parties = findings["parties"].anchors.get()
    assert parties.verified and text[parties.start:parties.end].startswith("Acme Corp. (the")  # curly quotes matched
    invented = law[1]
    assert not invented.verified and invented.start is None and invented.pages == []
    assert "Delaware" in invented.quote  # kept as the model wrote it
    assert automatic.cited_pages == [page.number]
    assert "Insurance" in automatic.unanswered and "Governing Law" not in automatic.unanswered


def test_a_model_that_never_answers_in_json_fails_the_analysis_not_the_document(scripted, workspace):
    document = _uploaded(workspace)
    other = _uploaded(workspace, TEXT.replace("Acme", "Gamma"))
    scripted.replies.extend(["I think the answer is New York.", "Still not JSON"])
    automatic = Analysis.objects.get(document=document)
    analyses.analysis_run(analysis_id=automatic.id)
    automatic.refresh_from_db()
    assert automatic.status == AnalysisStatus.FAILED and automatic.error_code == "analysis_failed"
    assert "could not be used, even after one retry" in automatic.error_message and not automatic.findings.exists()
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY and document.report.first_pass  # still readable
    assert Analysis.objects.get(document=other).status == AnalysisStatus.QUEUED  # untouched


def test_an_engine_error_is_recorded_with_its_message(scripted, workspace, monkeypatch):
    document = _uploaded(workspace)

    def unreachable(request, on_progress=None, cancel=None):
        raise EngineError("The engine at http://gpu-1:8000 did not answer.")

    monkeypatch.setattr(scripted, "generate", unreachable)
    automatic = Analysis.objects.get(document=document)
    analyses.analysis_run(analysis_id=automatic.id)
    automatic.refresh_from_db()
    assert (automatic.status, automatic.error_message) == (AnalysisStatus.FAILED, "The engine at http://gpu-1:8000 did not answer.")
    analyses.analysis_run(analysis_id=automatic.id)  # delivered again: a finished analysis is left alone
    assert Analysis.objects.get(pk=automatic.pk).finished_at == automatic.finished_at


def test_rerunning_with_another_playbook_keeps_the_earlier_analysis(scripted, workspace, owner):
    document, first = _ready_with_analysis(workspace, scripted)
    second = analyses.analysis_start(document=document, user=owner, playbook_name="report")
    with pytest.raises(AppError, match="already queued or running"):
        analyses.analysis_start(document=document, user=owner, playbook_name="report")
    scripted.replies.append(json.dumps({"findings": [
        {"item": "key_figures", "present": True, "answer": "none", "risk": "none", "risk_note": "", "quotes": []}]}))
    analyses.analysis_run(analysis_id=second.id)
    second.refresh_from_db()
    assert second.status == AnalysisStatus.READY and second.playbook_name == "report" and not second.automatic
    assert Analysis.objects.filter(document=document).count() == 2
    assert first.findings.count() == 3 and second.findings.count() == 1
    assert Anchor.objects.filter(finding__analysis=first).count() == 3


def test_cancel_ends_a_queued_analysis_at_once_and_a_running_one_at_the_engines_next_check(scripted, workspace, owner):
    document, _ = _ready_with_analysis(workspace, scripted)
    queued = analyses.analysis_start(document=document, user=owner, playbook_name="report")
    analyses.analysis_cancel(analysis=queued, user=owner)
    queued.refresh_from_db()
    assert queued.status == AnalysisStatus.CANCELLED
    analyses.analysis_run(analysis_id=queued.id)  # its task still arrives: nothing happens
    assert Analysis.objects.get(pk=queued.pk).status == AnalysisStatus.CANCELLED

    running = analyses.analysis_start(document=document, user=owner, playbook_name="report")
    original = scripted.generate

    def cancelled_while_reading(request, on_progress=None, cancel=None):
        analyses.analysis_cancel(analysis=Analysis.objects.get(pk=running.pk), user=owner)  # from the page
        return original(request, on_progress, cancel)

    scripted.generate = cancelled_while_reading
    scripted.replies.append(GOOD)
    analyses.analysis_run(analysis_id=running.id)
    running.refresh_from_db()
    assert running.status == AnalysisStatus.CANCELLED and not running.findings.exists()


def test_the_automatic_analysis_of_a_requeued_document_is_not_duplicated(scripted, workspace):
    document = _uploaded(workspace)
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.ANALYSING)
    reading.report_generate(document_id=document.id)  # the stuck-work check queued the step again
    assert Analysis.objects.filter(document=document).count() == 1


def test_workspace_playbooks_validate_bump_versions_and_drive_the_next_analysis(scripted, workspace, owner):
    edited = json.loads(playbooks.playbook_definition_json(workspace=workspace, name="contract"))
    edited["items"] = edited["items"][:2]
    row = playbooks.playbook_save(workspace=workspace, user=owner, name="contract", definition_json=json.dumps(edited))
    assert row.version == 2 and len(row.definition["items"]) == 2
    edited["items"] = edited["items"][:1]
    assert playbooks.playbook_save(workspace=workspace, user=owner, name="contract",
                                   definition_json=json.dumps(edited)).version == 3
    for bad, message in (("{not json", "not valid JSON"), (json.dumps({**edited, "items": []}), "between 1 and"),
                         (json.dumps({**edited, "kind": "poem"}), "kind")):
        with pytest.raises(PlaybookError, match=message):
            playbooks.playbook_save(workspace=workspace, user=owner, name="contract", definition_json=bad)
    assert WorkspacePlaybook.objects.get(workspace=workspace, name="contract").version == 3
    document = _uploaded(workspace)
    automatic = Analysis.objects.get(document=document)
    assert (automatic.playbook_version, len(automatic.playbook["items"])) == (3, 1)
    own = playbooks.playbook_save_questions(workspace=workspace, user=owner, name="lease", title="Lease",
                                            questions_text="What is the deposit?\n\nWho repairs?")
    assert [i["question"] for i in own.definition["items"]] == ["What is the deposit?", "Who repairs?"]
    assert {c.name for c in playbooks.playbook_choices(workspace=workspace)} == {"contract", "report", "lease"}
    playbooks.playbook_reset(workspace=workspace, user=owner, name="contract")
    assert playbooks.playbook_for_workspace(workspace=workspace, name="contract").version == 1


def test_followups_are_answered_with_anchored_quotes_and_kept_for_the_workspace(scripted, workspace, owner, login):
    document, _ = _ready_with_analysis(workspace, scripted)
    asked = followups.followup_ask(document=document, user=owner, question="  Which law   governs? ")
    assert asked.question == "Which law governs?" and asked.status == FollowUpStatus.QUEUED
    scripted.replies.append(json.dumps({"answer": "New York law.", "quotes": [
        "governed by the laws of the State of New York", "the laws of Narnia"]}))
    followups.followup_answer(followup_id=asked.id)
    asked.refresh_from_db()
    assert asked.status == FollowUpStatus.ANSWERED and asked.answer == "New York law." and asked.prompt_tokens > 0
    first, second = asked.anchors.all()
    assert first.verified and first.pages and not second.verified
    viewer = factories.make_user("vera")
    factories.add_member(workspace, viewer, "viewer")
    page = login(viewer).get(reverse("reports:detail", args=[document.id])).content.decode()
    assert "Which law governs?" in page and "New York law." in page and "the laws of Narnia" in page
    with pytest.raises(AppError, match="Write a question"):
        followups.followup_ask(document=document, user=owner, question="   ")


def test_a_followup_answer_shows_on_the_page_while_it_is_written(scripted, workspace, owner, login, monkeypatch):
    document, _ = _ready_with_analysis(workspace, scripted)
    asked = followups.followup_ask(document=document, user=owner, question="Which law governs?")
    monkeypatch.setattr(followups, "ANSWER_WRITE_SECONDS", 0)
    client = login(owner)
    status_url = reverse("reports:followups_status", args=[document.id])
    mid_stream = []

    def look(text_so_far: str) -> None:  # what a reader polling the page sees, between two pieces of the reply
        mid_stream.append((client.get(status_url).json(), client.get(reverse("reports:detail", args=[document.id]))))

    scripted.on_piece = look
    scripted.replies.append(json.dumps({"answer": "New York law, <b>plainly</b>.",
                                        "quotes": ["governed by the laws of the State of New York"]}))
    followups.followup_answer(followup_id=asked.id)
    partial = [status["answers"][str(asked.id)] for status, _ in mid_stream if status["answers"]]
    assert partial[-1] == "New York law, <b>plainly</b>." and len(set(partial)) > 2
    assert all(status["terminal"] is False for status, _ in mid_stream)  # nothing final until the quotes are in
    shown = mid_stream[-1][1].content.decode()  # the whole answer written, its quotes still to check
    assert f'data-answer-for="{asked.id}"' in shown and "&lt;b&gt;" in shown and "<b>plainly" not in shown
    asked.refresh_from_db()
    assert asked.status == FollowUpStatus.ANSWERED and asked.anchors.get().verified
    final = client.get(status_url).json()
    assert final["terminal"] is True and final["answers"] == {}


def test_report_page_shows_findings_marks_invented_quotes_and_escapes_what_the_model_wrote(scripted, workspace, owner, login):
    document, automatic = _ready_with_analysis(workspace, scripted)
    page = login(owner).get(reverse("reports:detail", args=[document.id])).content.decode()
    assert "Governing Law" in page and "risk: low" in page and "<mark>governed by the laws of the State of New York</mark>" in page
    assert "Not found in the document" in page and "&lt;script&gt;Delaware&lt;/script&gt;" in page
    assert "<script>Delaware" not in page
    assert "Test model" not in page
    Analysis.objects.filter(pk=automatic.pk).update(test_model=True, windows=3)
    page = login(owner).get(reverse("reports:detail", args=[document.id])).content.decode()
    assert "Test model: this analysis was written by a random-weight model" in page
    assert "read in 3 overlapping windows" in page
    only_verified = login(owner).get(reverse("reports:detail", args=[document.id]), {"verified": "1"}).content.decode()
    assert "Delaware" not in only_verified and "Governing Law" in only_verified
    high = login(owner).get(reverse("reports:detail", args=[document.id]), {"risk": "high"}).content.decode()
    assert "No findings match these filters" in high


def test_members_see_and_act_by_role_and_strangers_get_404_everywhere(scripted, workspace, owner, client):
    document, automatic = _ready_with_analysis(workspace, scripted)
    viewer, stranger = factories.make_user("vic"), factories.make_user("stan")
    factories.add_member(workspace, viewer, "viewer")
    factories.make_workspace(stranger, name="Elsewhere")
    start = reverse("reports:analysis_start", args=[document.id])
    cancel = reverse("reports:analysis_cancel", args=[automatic.id])
    status = reverse("reports:analysis_status", args=[automatic.id])
    ask = reverse("reports:followup_ask", args=[document.id])
    report = reverse("reports:detail", args=[document.id])
    playbook_list = reverse("reports:playbooks", args=[workspace.id])
    playbook_edit = reverse("reports:playbook_edit", args=[workspace.id, "contract"])

    client.force_login(stranger)
    for url in (report, status, playbook_list, playbook_edit):
        assert client.get(url).status_code == 404, url
    for url in (start, cancel, ask, playbook_list, playbook_edit):
        assert client.post(url, {"playbook": "report", "question": "x", "definition": "{}", "name": "x"}).status_code == 404, url

    client.force_login(viewer)
    assert client.get(status).json()["status"] == "ready"
    assert "Governing Law" in client.get(report).content.decode()
    assert client.post(start, {"playbook": "report"}).status_code == 403
    assert client.post(ask, {"question": "Which law?"}).status_code == 403
    assert client.post(playbook_edit, {"definition": "{}"}).status_code == 403
    assert Analysis.objects.filter(document=document).count() == 1 and not FollowUp.objects.exists()

    client.force_login(owner)
    response = client.post(start, {"playbook": "report"})
    assert response.status_code == 302 and Analysis.objects.filter(document=document).count() == 2
    client.post(ask, {"question": "Which law?"})
    assert FollowUp.objects.filter(document=document, asked_by=owner).count() == 1


def test_cancelling_a_run_whose_worker_vanished_ends_it_at_once(scripted, workspace, owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    document, _ = _ready_with_analysis(workspace, scripted)
    lost = analyses.analysis_start(document=document, user=owner, playbook_name="report")
    stale = timezone.now() - timedelta(seconds=settings.QUIRE_ANALYSE_TIME_LIMIT + 60)
    Analysis.objects.filter(pk=lost.pk).update(status=AnalysisStatus.RUNNING, updated_at=stale)
    analyses.analysis_cancel(analysis=lost, user=owner)
    assert Analysis.objects.get(pk=lost.pk).status == AnalysisStatus.CANCELLED
    analyses.analysis_start(document=document, user=owner, playbook_name="report")  # the playbook can run again


def test_the_api_lists_starts_shows_and_cancels_analyses_and_asks_followups_within_the_workspace(
        scripted, workspace, owner, client):
    document, automatic = _ready_with_analysis(workspace, scripted)
    stranger, viewer = factories.make_user("sid"), factories.make_user("val")
    factories.add_member(workspace, viewer, "viewer")
    listing = reverse("api:analysis-list", args=[document.id])
    detail = reverse("api:analysis-detail", args=[automatic.id])
    asks = reverse("api:followup-list", args=[document.id])
    cancel = reverse("api:analysis-cancel", args=[automatic.id])

    client.force_login(owner)
    [row] = client.get(listing).json()
    assert (row["id"], row["status"], row["playbook_name"]) == (str(automatic.id), "ready", "contract")
    body = client.get(detail).json()
    law = next(f for f in body["findings"] if f["item"] == "governing_law")
    text = Document.objects.get(pk=document.pk).text
    verified, invented = law["quotes"]
    assert verified["verified"] and "New York" in text[verified["start"]:verified["end"]] and verified["pages"]
    assert not invented["verified"] and invented["start"] is None
    started = client.post(listing, {"playbook": "report"}, content_type="application/json")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    again = client.post(listing, {"playbook": "report"}, content_type="application/json")
    assert again.status_code == 409 and "already queued" in again.json()["error"]["message"]
    assert client.post(listing, {"playbook": "nope"}, content_type="application/json").status_code == 400
    asked = client.post(asks, {"question": "Which law governs?"}, content_type="application/json")
    assert asked.status_code == 202 and client.get(asks).json()[0]["question"] == "Which law governs?"

    client.force_login(viewer)
    assert client.get(detail).status_code == 200
    assert client.post(listing, {"playbook": "contract"}, content_type="application/json").status_code == 403
    assert client.post(cancel).status_code == 403

    client.force_login(stranger)
    for url in (listing, detail, asks):
        assert client.get(url).status_code == 404, url
    assert client.post(listing, {"playbook": "report"}, content_type="application/json").status_code == 404
    assert client.post(cancel).status_code == 404

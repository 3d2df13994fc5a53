"""A real Celery worker holding the real local engine (a tiny random-weight model, marked as such) takes an uploaded
CUAD contract through ingestion, the first pass and the model's playbook review to a stored analysis, then answers a
follow-up question. Its findings are meaningless; what must hold is that every step completes with output the
playbook's schema accepts, progress reaches the page, and the page says the model is a test model.

The worker has its own Redis, so the session's engine-less worker never takes these tasks."""

from __future__ import annotations

import json
import uuid

import jsonschema
import pytest
from django.urls import reverse

from analysis.findings import output_schema
from analysis.playbooks import from_dict
from tests import factories
from tests.worker import PrivateRedis, start_worker, stop_worker, wait_for
from webapp.pipeline import followups
from webapp.reports import playbooks
from webapp.reports.models import Analysis, FollowUp

pytestmark = [pytest.mark.integration, pytest.mark.engine, pytest.mark.django_db(transaction=True)]

CONTRACT = "contracts_cuad/ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.PDF"
ONE_QUESTION = {"title": "One question", "kind": "custom", "instructions": "Answer from the document alone.",
                "items": [{"key": "law", "title": "Governing law", "question": "Which law governs this agreement?"}]}


@pytest.fixture
def engine_worker(tmp_path):
    from django.db import connection

    from engine.tiny import cached_tiny_model

    broker = PrivateRedis(tmp_path)
    broker.start()
    env = {"CELERY_BROKER_URL": broker.url, "QUIRE_ENGINE": "local", "QUIRE_ENGINE_DEVICE": "cpu",
           "QUIRE_ENGINE_MODEL": str(cached_tiny_model("llama", max_context=32768)),
           "QUIRE_ENGINE_MEMORY_BUDGET_BYTES": str(256 << 20), "QUIRE_ANALYSIS_MAX_TOKENS": "6000"}
    worker = start_worker(database_name=connection.settings_dict["NAME"], pool="solo", env=env,
                          log_path=tmp_path / f"engine-worker-{uuid.uuid4().hex[:6]}.log")
    yield worker, broker
    stop_worker(worker)
    broker.stop()


def test_upload_to_stored_analysis_and_a_follow_up_in_a_real_worker_with_the_local_engine(
        corpus, engine_worker, client, monkeypatch, settings):
    from celery import chain

    from webapp.celery import app
    from webapp.pipeline.tasks import document_ingest_task
    from webapp.pipeline.tasks import followup_answer_task, report_generate_task

    worker, broker = engine_worker
    owner = factories.make_user("ana")
    workspace = factories.make_workspace(owner, name="Engine worker")
    for name in ("contract", "report"):  # one question: a random model writes each string to its longest
        playbooks.playbook_save(workspace=workspace, user=owner, name=name, definition_json=json.dumps(ONE_QUESTION))
    document = factories.make_document_from_file(workspace, corpus / CONTRACT, "pdf")
    with app.connection_for_write(broker.url) as connection:
        chain(document_ingest_task.si(str(document.id), None), report_generate_task.si(str(document.id))).apply_async(
            connection=connection)

    seen = []

    def settled():
        document.refresh_from_db()
        run = Analysis.objects.filter(document=document).first()
        state = (document.status, document.progress, run and run.status, run and run.stage)
        if not seen or seen[-1] != state:
            seen.append(state)
        return document.status in ("ready", "failed")

    wait_for(settled, timeout=240, worker=worker, what="the document")
    run = Analysis.objects.get(document=document)
    assert document.status == "ready" and (run.status, run.error_message) == ("ready", ""), seen
    assert run.automatic and run.test_model and run.engine == "local" and run.windows == 1
    assert run.prompt_tokens > 5000 and run.generated_tokens > 0 and run.prefill_seconds > 0
    # The page saw the model at work: the analysis running, and the document's bar in the model's share.
    assert any(run_status == "running" for _, _, run_status, _ in seen), seen
    assert any(status == "analysing" and 65 <= progress < 100 for status, progress, _, _ in seen), seen
    schema = output_schema(from_dict(run.playbook))
    reply = {"findings": [{"item": f.item, "present": f.present, "answer": f.answer, "risk": f.risk,
                           "risk_note": f.risk_note, "quotes": [a.quote for a in f.anchors.all()]}
                          for f in run.findings.all()]}
    jsonschema.validate(reply, schema)
    client.force_login(owner)
    page = client.get(reverse("reports:detail", args=[document.id])).content.decode()
    assert "Test model: this analysis was written by a random-weight model" in page

    def publish(followup_id):
        with app.connection_for_write(broker.url) as connection:
            followup_answer_task.apply_async((str(followup_id),), connection=connection)

    monkeypatch.setattr(followups, "_enqueue", publish)
    settings.QUIRE_ENGINE = "local"  # as the web process would be configured; the worker holds the engine
    asked = followups.followup_ask(document=document, user=owner, question="Which law governs this agreement?")
    wait_for(lambda: FollowUp.objects.get(pk=asked.pk).status != "queued", timeout=180, worker=worker, what="the answer")
    asked.refresh_from_db()
    assert asked.status == "answered" and asked.test_model and asked.prompt_tokens > 5000, asked.error_message
    assert worker.alive


@pytest.fixture
def v4_engine_worker(tmp_path):
    """An engine worker on DeepSeek-V4 laid out as DeepSeek publishes V4-Flash (FP8 weights, FP4 experts, shards)."""
    from django.db import connection

    from engine.tiny import cached_tiny_model

    broker = PrivateRedis(tmp_path)
    broker.start()
    model = cached_tiny_model("deepseek_v4", heads=16, hidden=256, vocab=1024, max_context=16384, published_layout=True)
    env = {"CELERY_BROKER_URL": broker.url, "QUIRE_ENGINE": "local", "QUIRE_ENGINE_DEVICE": "cpu",
           "QUIRE_ENGINE_MODEL": str(model), "QUIRE_ANALYSIS_MAX_TOKENS": "6000"}
    worker = start_worker(database_name=connection.settings_dict["NAME"], pool="solo", env=env,
                          log_path=tmp_path / f"v4-worker-{uuid.uuid4().hex[:6]}.log")
    yield worker, broker
    stop_worker(worker)
    broker.stop()


def test_a_real_worker_analyses_an_upload_with_v4_as_deepseek_publishes_it(v4_engine_worker):
    from celery import chain

    from webapp.celery import app
    from webapp.pipeline.tasks import document_ingest_task
    from webapp.pipeline.tasks import report_generate_task

    worker, broker = v4_engine_worker
    owner = factories.make_user("vera")
    workspace = factories.make_workspace(owner, name="V4 worker")
    for name in ("contract", "report"):
        playbooks.playbook_save(workspace=workspace, user=owner, name=name, definition_json=json.dumps(ONE_QUESTION))
    body = b"This Services Agreement is made between Alpha Ltd and Beta GmbH and is governed by the laws of Delaware.\n" * 20
    document = factories.make_document(workspace, content=body, status="queued")
    with app.connection_for_write(broker.url) as connection:
        chain(document_ingest_task.si(str(document.id), None), report_generate_task.si(str(document.id))).apply_async(
            connection=connection)

    def settled():
        document.refresh_from_db()
        return document.status in ("ready", "failed")

    wait_for(settled, timeout=240, worker=worker, what="the document")
    run = Analysis.objects.get(document=document)
    assert document.status == "ready" and (run.status, run.error_message) == ("ready", "")
    assert run.test_model and run.generated_tokens > 0
    assert "Engine memory plan:" in worker.log() and "it fits." in worker.log()
    assert worker.alive

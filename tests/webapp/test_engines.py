"""The engine setting: which engine the analysis step gets, built once, and what the pages say."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from engine.api import GenerationRequest
from tests import factories
from webapp.pipeline import ingest, reading
from webapp.documents.models import DocumentStatus
from webapp.engines import engine_from_settings, model_label
from webapp.pipeline import analyses
from webapp.reports import playbooks
from webapp.reports.models import Analysis, Report


@pytest.fixture
def local_tiny(settings):
    from engine.tiny import cached_tiny_model

    settings.QUIRE_ENGINE = "local"
    settings.QUIRE_ENGINE_MODEL = str(cached_tiny_model("llama", max_context=16384))
    settings.QUIRE_ENGINE_DEVICE = "cpu"
    settings.QUIRE_ENGINE_MEMORY_BUDGET_BYTES = 64 << 20
    # A random model writes every string to its longest: one item's answer, quotes and note fit in this.
    settings.QUIRE_ANALYSIS_MAX_TOKENS = 6000
    return settings


@pytest.mark.engine
def test_local_engine_is_built_once_and_counts_the_documents_tokens(local_tiny, workspace, owner):
    for name in ("contract", "report"):  # one question each, so the random model's reply stays short
        playbooks.playbook_save(workspace=workspace, user=owner, name=name, definition_json=json.dumps(
            {"title": "One question", "kind": "custom", "instructions": "Answer from the document.",
             "items": [{"key": "law", "title": "Governing law", "question": "Which law governs?"}]}))
    engine = engine_from_settings()
    assert engine_from_settings() is engine
    body = b"This agreement is made between Alpha Ltd and Beta GmbH.\n" * 40
    document = factories.make_document(workspace, content=body, status=DocumentStatus.QUEUED)
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    document.refresh_from_db()
    # With an engine configured, the report step queues the model's review; the document is ready when it ends.
    assert document.status == DocumentStatus.ANALYSING
    automatic = Analysis.objects.get(document=document)
    assert automatic.test_model and automatic.model_id == model_label(engine.model_id)  # a tiny checkpoint is marked
    analyses.analysis_run(analysis_id=automatic.id)
    automatic.refresh_from_db()
    document.refresh_from_db()
    assert (automatic.status, automatic.error_message) == ("ready", "") and document.status == DocumentStatus.READY
    assert automatic.generated_tokens > 0 and automatic.findings.count() <= 1
    facts = {f["label"]: f["value"] for f in Report.objects.get(document=document).facts}
    label = "Tokens (the engine model's own tokenizer)"
    assert int(facts[label].replace(",", "")) == engine.count_tokens(document.text)
    shown = Report.objects.get(document=document).engine
    assert shown and "/" not in shown and engine.model_id.endswith(shown)
    assert facts["Fits the engine's context in one piece"] == "yes"


def test_openai_engine_is_the_remote_client(settings):
    settings.QUIRE_ENGINE = "openai"
    settings.QUIRE_ENGINE_MODEL = "deepseek-ai/DeepSeek-V4-Flash"
    settings.QUIRE_ENGINE_BASE_URL = "http://127.0.0.1:9/v1"
    settings.QUIRE_ENGINE_MAX_CONTEXT = 1_048_576
    engine = engine_from_settings()
    assert type(engine).__name__ == "RemoteEngine"
    assert (engine.model_id, engine.max_context) == ("deepseek-ai/DeepSeek-V4-Flash", 1_048_576)
    settings.QUIRE_ENGINE_EXTRA_BODY = {"repeat_penalty": 1.0}
    rebuilt = engine_from_settings()  # a changed setting builds a new engine that sends it
    assert rebuilt is not engine and rebuilt._payload(GenerationRequest(prompt="x", max_tokens=1))[1]["repeat_penalty"] == 1.0


def test_extra_body_setting_must_be_a_json_object(monkeypatch):
    from webapp.settings import env_json_object

    monkeypatch.setenv("QUIRE_ENGINE_EXTRA_BODY", '{"repeat_penalty": 1.0}')
    assert env_json_object("QUIRE_ENGINE_EXTRA_BODY") == {"repeat_penalty": 1.0}
    for bad in ("[1]", "{not json"):
        monkeypatch.setenv("QUIRE_ENGINE_EXTRA_BODY", bad)
        with pytest.raises(ImproperlyConfigured, match="QUIRE_ENGINE_EXTRA_BODY"):
            env_json_object("QUIRE_ENGINE_EXTRA_BODY")


@pytest.mark.parametrize(("choice", "model"), [("gpt", "x"), ("local", "")])
def test_misconfigured_engine_names_the_setting(settings, choice, model):
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = choice, model
    with pytest.raises(ImproperlyConfigured) as error:
        engine_from_settings()
    assert "QUIRE_ENGINE" in str(error.value)


def test_demo_engine_banner_is_on_every_page(settings, login, workspace):
    client = login(workspace.created_by)
    assert "meaningless" not in client.get(reverse("workspaces:list")).content.decode()
    settings.QUIRE_ENGINE_DEMO = True
    for url in (reverse("workspaces:list"), reverse("workspaces:detail", args=[workspace.id])):
        assert "anything it writes is meaningless" in client.get(url).content.decode()
    assert "anything it writes is meaningless" in Client().get(reverse("account_login")).content.decode()


def test_the_demo_models_notice_is_on_every_page(settings, login, workspace, tmp_path):
    from engine.demo_model import DEMO_MARKER

    folder = tmp_path / "SmolLM2-135M-Instruct-1"  # what the notice reads: the marker the demo build writes
    folder.mkdir()
    (folder / DEMO_MARKER).write_text("demo\n")
    settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "local", str(folder)
    client = login(workspace.created_by)
    for response in (client.get(reverse("workspaces:list")), client.get(reverse("workspaces:detail", args=[workspace.id])),
                     Client().get(reverse("account_login"))):  # the log-in page as its visitors see it: logged out
        page = response.content.decode()
        assert "135M-parameter demo model" in page and "only its verified quotes are evidence" in page
    settings.QUIRE_ENGINE_MODEL = str(tmp_path)  # any other model: no notice
    assert "demo model" not in client.get(reverse("workspaces:list")).content.decode()


@pytest.mark.engine
def test_make_run_uses_the_installed_demo_model_when_the_hub_cannot_be_reached(monkeypatch, tmp_path):
    from webapp import embedded

    for name in ("QUIRE_ENGINE", "QUIRE_ENGINE_MODEL", "QUIRE_ENGINE_DEMO", "QUIRE_EMBEDDED_MODEL",
                 "QUIRE_ENGINE_MEMORY_BUDGET_BYTES"):
        monkeypatch.setenv(name, "")  # so that what choose_engine writes is undone after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # nothing cached: the hub model is out of reach
    monkeypatch.setenv("QUIRE_CACHE_DIR", os.environ.get("QUIRE_CACHE_DIR") or str(Path.home() / ".cache" / "quire"))
    described = embedded.choose_engine(tmp_path)
    assert "SmolLM2-135M-Instruct demo model" in described
    assert os.environ["QUIRE_ENGINE"] == "local" and "QUIRE_ENGINE_DEMO" not in os.environ
    assert Path(os.environ["QUIRE_ENGINE_MODEL"], "QUIRE_DEMO_MODEL").is_file()


def _one_question_playbooks(workspace, owner) -> None:
    for name in ("contract", "report"):
        playbooks.playbook_save(workspace=workspace, user=owner, name=name, definition_json=json.dumps(
            {"title": "One question", "kind": "custom", "instructions": "Answer from the document.",
             "items": [{"key": "law", "title": "Governing law", "question": "Which law governs?"}]}))


def _analysed(workspace) -> Analysis:
    body = b"This agreement is made between Alpha Ltd and Beta GmbH.\n" * 40
    document = factories.make_document(workspace, content=body, status=DocumentStatus.QUEUED)
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    automatic = Analysis.objects.get(document=document)
    analyses.analysis_run(analysis_id=automatic.id)
    automatic.refresh_from_db()
    return automatic


@pytest.mark.engine
def test_the_analysis_step_runs_on_deepseek_v4_as_deepseek_publishes_it(local_tiny, workspace, owner):
    from engine.tiny import cached_tiny_model

    local_tiny.QUIRE_ENGINE_MODEL = str(cached_tiny_model("deepseek_v4", heads=16, hidden=256, vocab=1024, max_context=16384,
                                                          published_layout=True))
    _one_question_playbooks(workspace, owner)
    automatic = _analysed(workspace)
    assert (automatic.status, automatic.error_message) == ("ready", "") and automatic.generated_tokens > 0
    assert automatic.test_model


def test_a_broken_checkpoint_fails_the_analysis_with_a_message_naming_the_file(local_tiny, workspace, owner, tmp_path):
    import shutil

    from engine.tiny import cached_tiny_model

    broken = tmp_path / "v4"
    shutil.copytree(cached_tiny_model("deepseek_v4", heads=16, hidden=256, vocab=1024, max_context=16384,
                                      published_layout=True), broken)
    shard = broken / "model-00003-of-00003.safetensors"
    shard.write_bytes(shard.read_bytes()[:1000])
    local_tiny.QUIRE_ENGINE_MODEL = str(broken)
    _one_question_playbooks(workspace, owner)
    automatic = _analysed(workspace)
    assert automatic.status == "failed" and automatic.error_code == "checkpoint_invalid"
    assert automatic.error_message.startswith(f"{shard} is truncated") and "Traceback" not in automatic.error_message

"""Quire against a real third-party OpenAI-compatible server: llama.cpp's (llama-cpp-python, built from its PyPI
source) serving the demo model's GGUF, the stand-in for vLLM, SGLang and DeepSeek's API. `analysis run` and the
web app complete a contract review and a follow-up through it; each way it can fail (down, a prompt longer than
its context, a timeout, the server dying mid-stream) ends the analysis with a readable reason and the document
still ready. What differs from our own server is handled in engine/remote.py: no context length in /v1/models,
`response_format` taken only as json_object (with a schema), token counts at /extras/tokenize/count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import jsonschema
import pytest

from analysis.findings import output_schema
from analysis.playbooks import load
from tests import factories
from tests.conftest import CORPUS
from tests.worker import free_port
from webapp.pipeline import ingest, reading
from webapp.documents.models import DocumentStatus
from webapp.pipeline import analyses, followups
from webapp.reports import playbooks
from webapp.reports.models import Analysis

pytestmark = [pytest.mark.integration, pytest.mark.llamacpp]

ROOT = Path(__file__).resolve().parents[2]
# A short real contract (about 2,000 tokens, over the 1,000 the tests ask of a prompt): the demo model on llama.cpp
# reads about 80 tokens a second on two cores, so a 6,500-token one cost each test over a minute of prefill.
CONTRACT = CORPUS / "contracts_cuad" / "SIBANNAC,INC_12_04_2017-EX-2.1-Strategic Alliance Agreement.PDF"
# llama.cpp's server keeps the last prompt's cache: a contract it has not read yet makes it read again.
OTHER_CONTRACT = CORPUS / "contracts_cuad" / "ADIANUTRITION,INC_04_01_2005-EX-10.D2-RESELLER AGREEMENT.PDF"
ALIAS = "smollm2"
CONTEXT = 8192
THREE_ITEMS = ("parties", "agreement_date", "governing_law")


def _require_llama_cpp():
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        if os.environ.get("QUIRE_REQUIRE_LLAMACPP"):
            pytest.fail("llama-cpp-python is not installed (make test installs it: the llamacpp extra)")
        pytest.skip("llama-cpp-python is not installed (pip install -e '.[llamacpp]')")


class LlamaServer:
    """The server as a child process; its log goes to a file, whose tail is the error when it does not start
    (an exit code of -4 is SIGILL: a build for extensions this CPU lacks)."""

    def __init__(self, log: Path, *, context: int = CONTEXT) -> None:
        from engine.demo_model import gguf_path

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--model_alias", ALIAS,
                 "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(context), "--n_threads", "2"],
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        exited = self.process.poll()
        self.stop()
        tail = log.read_text(errors="replace")[-3000:]
        state = f"exited with {exited}" if exited is not None else "did not answer in 120 s"
        raise RuntimeError(f"llama.cpp's server {state}; its log ends:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _require_llama_cpp()
    running = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log")
    yield running
    running.stop()


def _three_item_playbook(tmp_path: Path) -> Path:
    contract = load("contract")
    items = [item for item in contract.items if item.key in THREE_ITEMS]
    definition = {"name": "three", "version": 1, "title": "Three questions", "kind": "contract",
                  "instructions": contract.instructions,
                  "items": [{"key": i.key, "title": i.title, "question": i.question, "answer": i.answer} for i in items]}
    path = tmp_path / "three.json"
    path.write_text(json.dumps(definition))
    return path


def _analysis_run(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", "run", str(CONTRACT), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_analysis_run_reviews_a_contract_through_llama_cpp(server, tmp_path):
    playbook = _three_item_playbook(tmp_path)
    refused = _analysis_run("--engine", server.url, "--model", ALIAS, "--playbook", str(playbook), "--json", timeout=120)
    assert refused.returncode != 0 and "--max-context" in refused.stderr  # /v1/models carries no context length

    done = _analysis_run("--engine", server.url, "--model", ALIAS, "--playbook", str(playbook), "--max-context",
                         str(CONTEXT), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    reply = {"findings": [{"item": f["item"], "present": f["present"], "answer": f["answer"], "risk": f["risk"],
                           "risk_note": f["risk_note"], "quotes": [q["text"] for q in f["quotes"]]}
                          for f in result["findings"]]}
    contract = load("contract")
    jsonschema.validate(reply, output_schema(replace(contract, items=tuple(i for i in contract.items
                                                                           if i.key in THREE_ITEMS))))
    assert result["findings"] and result["prompt_tokens"] > 1000 and result["generated_tokens"] > 0
    assert result["model_id"] == ALIAS


@pytest.fixture
def through_llama_cpp(server, settings, workspace, owner, monkeypatch):
    # The remote engine reads the cancel flag from its watcher thread, whose connection cannot see this test's
    # transaction (the row would look deleted, so cancelled). Nothing here cancels.
    monkeypatch.setattr(analyses._CancelFlag, "is_set", lambda self: False)
    settings.QUIRE_ENGINE = "openai"
    settings.QUIRE_ENGINE_BASE_URL = server.url
    settings.QUIRE_ENGINE_MODEL = ALIAS
    settings.QUIRE_ENGINE_MAX_CONTEXT = CONTEXT
    settings.QUIRE_ENGINE_TIMEOUT_S = 300
    settings.QUIRE_ANALYSIS_MAX_TOKENS = 1500
    contract = load("contract")
    items = [item for item in contract.items if item.key in THREE_ITEMS]
    definition = {"title": "Three questions", "kind": "contract", "instructions": contract.instructions,
                  "items": [{"key": i.key, "title": i.title, "question": i.question, "answer": i.answer} for i in items]}
    for name in ("contract", "report"):
        playbooks.playbook_save(workspace=workspace, user=owner, name=name, definition_json=json.dumps(definition))
    return settings


def _analysed(workspace, contract: Path = CONTRACT):
    """An uploaded contract through ingestion, the report step and its automatic analysis, as the workers run them."""
    document = factories.make_document_from_file(workspace, contract, "pdf")
    ingest.document_ingest(document_id=document.id)
    reading.report_generate(document_id=document.id)
    automatic = Analysis.objects.get(document=document)
    analyses.analysis_run(analysis_id=automatic.id)
    automatic.refresh_from_db()
    document.refresh_from_db()
    return document, automatic


@pytest.mark.django_db
def test_the_web_app_reviews_and_answers_a_follow_up_through_llama_cpp(through_llama_cpp, workspace, owner, monkeypatch):
    document, automatic = _analysed(workspace)
    assert (automatic.status, automatic.error_message) == ("ready", ""), automatic.error_message
    # It streams no usage: the prompt is counted with its tokenizer (/extras/tokenize/count).
    assert document.status == DocumentStatus.READY and automatic.engine == "openai" and automatic.prompt_tokens > 1000
    monkeypatch.setattr(followups, "_enqueue", lambda followup_id: None)
    asked = followups.followup_ask(document=document, user=owner, question="Which law governs this agreement?")
    followups.followup_answer(followup_id=asked.id)
    asked.refresh_from_db()
    assert asked.status == "answered" and asked.answer and asked.prompt_tokens > 1000, asked.error_message


@pytest.mark.django_db
def test_a_server_that_is_down_fails_the_analysis_with_the_reason_and_the_document_stays_ready(
        through_llama_cpp, workspace):
    through_llama_cpp.QUIRE_ENGINE_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    document, automatic = _analysed(workspace)
    assert automatic.status == "failed" and "Cannot reach the engine" in automatic.error_message
    assert document.status == DocumentStatus.READY


@pytest.mark.django_db
def test_a_prompt_longer_than_the_servers_context_fails_with_the_reason(through_llama_cpp, workspace, tmp_path):
    small = LlamaServer(tmp_path / "small.log", context=1024)  # the setting claims 8,192: the server refuses the prompt
    try:
        through_llama_cpp.QUIRE_ENGINE_BASE_URL = small.url
        document, automatic = _analysed(workspace)
    finally:
        small.stop()
    # llama-cpp-python closes the stream without a word when a prompt exceeds its context: the reason names it.
    assert automatic.status == "failed" and "server's context" in automatic.error_message, automatic.error_message
    assert document.status == DocumentStatus.READY


@pytest.mark.django_db
def test_a_timeout_fails_with_the_setting_to_raise(through_llama_cpp, workspace):
    through_llama_cpp.QUIRE_ENGINE_TIMEOUT_S = 1  # reading a contract it has not seen takes longer than that
    document, automatic = _analysed(workspace, OTHER_CONTRACT)
    assert automatic.status == "failed" and "QUIRE_ENGINE_TIMEOUT_S" in automatic.error_message, automatic.error_message
    assert document.status == DocumentStatus.READY


@pytest.mark.django_db
def test_the_server_dying_mid_stream_fails_with_the_reason(through_llama_cpp, workspace, monkeypatch, tmp_path):
    dying = LlamaServer(tmp_path / "dying.log")
    through_llama_cpp.QUIRE_ENGINE_BASE_URL = dying.url
    report = analyses._Progress.report

    def kill_once_writing(self, fraction, stage, **kwargs):
        if stage.startswith("Writing findings"):
            dying.stop()  # SIGKILL while the reply streams
        return report(self, fraction, stage, **kwargs)

    monkeypatch.setattr(analyses._Progress, "report", kill_once_writing)
    try:
        document, automatic = _analysed(workspace)
    finally:
        dying.stop()
    assert automatic.status == "failed", automatic.stage
    assert "broke" in automatic.error_message or "closed the stream" in automatic.error_message, automatic.error_message
    assert document.status == DocumentStatus.READY

"""The whole reviewer's path in real headless Chromium: sign up, create a workspace, upload a CUAD contract from the
shared corpus, watch its bar move to ready, open the report, click a finding and see its passage marked on its page,
ask a follow-up, export PDF and DOCX. The engine is an OpenAI-compatible server that quotes the document's own
sentences (tests/scripted_server.py), reached by a real Celery worker the way vLLM would be. Screenshots of the
workspace page, the report page and the exported PDF's first page go to var/test-artifacts/."""

from __future__ import annotations

import io
import re
import subprocess
import uuid
from pathlib import Path

import docx
import pypdf
import pytest
from django.core import mail

from tests.browser.conftest import wait_until
from tests.scripted_server import MODEL, ScriptedServer
from tests.worker import start_worker, stop_worker

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "var" / "test-artifacts"
CONTRACT = "contracts_cuad/ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.PDF"


@pytest.fixture
def engine_stack(settings, tmp_path):
    """The scripted engine and a worker that uses it, on the session's broker. Any other test worker stops taking
    tasks meanwhile (Celery's remote control), so no engine-less worker picks up these documents."""
    from django.db import connection

    from webapp.celery import app

    engine_env = {"QUIRE_ENGINE": "openai", "QUIRE_ENGINE_MODEL": MODEL, "QUIRE_ENGINE_MAX_CONTEXT": str(1 << 20)}
    with ScriptedServer() as server:
        engine_env["QUIRE_ENGINE_BASE_URL"] = server.url
        for queue in ("default", "engine"):
            app.control.cancel_consumer(queue, reply=True, timeout=2)
        worker = start_worker(database_name=connection.settings_dict["NAME"], env=engine_env,
                              log_path=tmp_path / f"engine-worker-{uuid.uuid4().hex[:6]}.log")
        settings.QUIRE_ENGINE, settings.QUIRE_ENGINE_MODEL = "openai", MODEL
        settings.QUIRE_ENGINE_BASE_URL, settings.QUIRE_ENGINE_MAX_CONTEXT = server.url, 1 << 20
        try:
            yield worker
        finally:
            stop_worker(worker)
            for queue in ("default", "engine"):
                app.control.add_consumer(queue, reply=True, timeout=2)


def test_sign_up_upload_read_a_finding_ask_and_export(page, live_server, corpus, engine_stack):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    page.goto(f"{base}/accounts/signup/")
    page.fill("#id_email", "rita@example.com")
    page.fill("#id_password1", "a long reviewer passphrase 7")
    page.fill("#id_password2", "a long reviewer passphrase 7")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/accounts/confirm-email/")  # no workspace before the emailed link is followed
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body).group(1)
    page.goto(f"{base}{link}")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.fill("#id_name", "Supplier contracts")
    page.click("text=Create workspace")
    page.wait_for_url(re.compile(r".*/w/[0-9a-f-]{36}/$"))

    page.set_input_files("#upload-input", str(corpus / CONTRACT))
    row = "#documents tbody tr[data-doc-id]"
    page.wait_for_selector(row)
    seen = set()
    for _ in range(600):
        state = page.evaluate(f"""() => {{ const r = document.querySelector('{row}');
            const p = r.querySelector('progress'); return [r.getAttribute('data-status'), p ? p.value : null]; }}""")
        seen.add(tuple(state))
        if state[0] in ("ready", "failed"):
            break
        page.wait_for_timeout(200)
    assert state[0] == "ready", (seen, engine_stack.log()[-3000:])
    assert any(status not in (None, "ready") for status, _ in seen), seen  # the bar was seen before it was done
    page.screenshot(path=str(ARTIFACTS / "workspace.png"), full_page=True)

    page.click(f"{row} a.doc-name")
    page.click("text=Open report")
    page.wait_for_selector(".finding .quote.verified a.to-passage")
    assert "Not found in the document" in page.inner_text(".findings")  # the invented quote says so
    link = page.locator(".finding .quote.verified a.to-passage").first
    key, label = link.get_attribute("data-key"), link.inner_text()
    link.click()
    # The passage is marked in the text and, on the page image, over its lines; the view scrolls to it.
    wait_until(page, "k => document.querySelectorAll(`.doc-pane .current[data-keys~='${k}']`).length >= 2", key)
    shown = page.locator(f'.doc-pane .current[data-keys~="{key}"]').first
    assert shown.evaluate("m => m.classList.contains('hl-box')")  # on the page image, from the ingestion boxes
    page_number = shown.evaluate("m => m.closest('.doc-page').dataset.page")
    assert label.split()[-1].split("–")[0] == page_number, (label, page_number)
    wait_until(page, """k => { const m = document.querySelector(`.doc-pane .current[data-keys~='${k}']`);
        const r = m.getBoundingClientRect(), pane = m.closest('.doc-pane').getBoundingClientRect();
        return r.height > 0 && r.top >= pane.top && r.bottom <= pane.bottom; }""", key)
    # The page image is drawn on first view and loaded lazily: wait for it rather than catch it mid-load.
    wait_until(page, "() => { const i = document.querySelector('.doc-page .page-image img'); return i.complete && i.naturalWidth > 0; }")
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)

    page.fill("#question", "Who are the parties?")
    page.click("form.ask button[type=submit]")
    # The answer shows while the model is still writing (the scripted engine streams the reply over seconds)...
    wait_until(page, "() => { const a = document.querySelector('.followup-queued [data-answer-for]');"
                     " return !!a && a.textContent.trim().length > 0; }", timeout=60)
    streamed = page.inner_text(".followup-queued [data-answer-for]")
    assert "The document says so here.".startswith(streamed.strip()), streamed
    # ...and the page reloads with the answer's checked quotes once it is done.
    wait_until(page, "() => !!document.querySelector('.followup-answered, .followup-failed')", timeout=60)
    assert page.locator(".followup-answered").count() == 1, (page.inner_text("#followups"), engine_stack.log()[-3000:])
    assert "The document says so here." in page.inner_text("#followups")

    exports = {}
    for fmt in ("pdf", "docx"):
        with page.expect_download() as download:
            page.click(f'.exports a[data-format="{fmt}"]')
        target = ARTIFACTS / f"report.{fmt}"
        download.value.save_as(str(target))
        exports[fmt] = target
    pdf = pypdf.PdfReader(exports["pdf"])
    assert pdf.pages and "Source:" in "".join(p.extract_text() for p in pdf.pages)
    word = docx.Document(io.BytesIO(exports["docx"].read_bytes()))
    assert sum(p.style.name == "Heading 2" for p in word.paragraphs) == page.locator(".finding").count()
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(exports["pdf"]),
                    str(ARTIFACTS / "export-first-page")], check=True, timeout=60)
    assert (ARTIFACTS / "export-first-page.png").stat().st_size > 1000

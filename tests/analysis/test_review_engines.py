"""Reviews end to end on real engines with tiny random-weight models: the in-process engine, and `engine serve`
(a real subprocess, over HTTP) with the tiny DeepSeek-V4. Their content is meaningless; what must hold is that
the review completes with output the playbook's schema accepts, through JSON-schema constrained decoding,
and says it came from a test model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.findings import output_schema
from analysis.ingest.document import IngestedDocument
from analysis.playbooks import custom
from analysis.review import review

pytestmark = pytest.mark.engine
REPO = Path(__file__).resolve().parents[2]
TEXT = ["MASTER SUPPLY AGREEMENT between Acme Corp. and Beta LLC. 1. Term. Three years.",
        "2. Governing Law. The laws of the State of New York govern this Agreement."]


def _check(result, playbook) -> None:
    import jsonschema

    as_reply = {"findings": [{"item": f.item, "present": f.present, "answer": f.answer, "quotes": [q.text for q in f.quotes],
                              "risk": f.risk, "risk_note": f.risk_note} for f in result.findings]}
    jsonschema.validate(as_reply, output_schema(playbook))
    assert result.test_model and result.windows == 1 and result.prompt_tokens > 0 and result.generated_tokens > 0
    json.dumps(result.as_json())  # storable as it is


def test_review_completes_on_the_local_engine_with_a_tiny_model():
    from engine.local import LocalEngine
    from engine.tiny import cached_tiny_model

    playbook = custom(["Which law governs this agreement?"])
    with LocalEngine.from_pretrained(cached_tiny_model("llama", max_context=16384), device="cpu") as engine:
        result = review(IngestedDocument.from_pages("text", TEXT), playbook, engine, max_tokens=3000, test_model=True)
    _check(result, playbook)


def test_review_completes_through_engine_serve_over_http_with_tiny_deepseek_v4(tmp_path):
    from engine.remote import RemoteEngine
    from engine.tiny import cached_tiny_model

    model = cached_tiny_model("deepseek_v4")
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", "--model", str(model), "--port", "0", "--device", "cpu",
         "--prefix-cache-dir", str(tmp_path / "prefix")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"},
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Serving ") and " at http://127.0.0.1:" in line, line
        root = line.split(" at ")[1].split()[0].removesuffix("/v1")
        playbook = custom(["Which law governs this agreement?"])
        with RemoteEngine(root, str(model), max_retries=0, timeout_s=300) as remote:
            result = review(IngestedDocument.from_pages("text", TEXT), playbook, remote, max_tokens=3000, test_model=True)
        _check(result, playbook)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", "run", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_analysis_run_cli_prints_the_review_as_json_and_says_a_tiny_model_is_a_test_model(tmp_path):
    from engine.tiny import cached_tiny_model

    document = tmp_path / "agreement.txt"
    document.write_text("\n\n".join(TEXT) + "\n")
    playbook = tmp_path / "one.json"
    playbook.write_text(json.dumps(custom(["Which law governs this agreement?"]).as_dict()))
    model = cached_tiny_model("llama", max_context=16384)
    done = _cli(str(document), "--playbook", str(playbook), "--engine", f"local:{model}", "--max-tokens", "6000", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["test_model"] and result["playbook"] == "custom" and result["windows"] == 1
    assert result["prompt_tokens"] > 0 and len(result["findings"]) <= 1


def test_analysis_run_cli_fails_in_one_line_on_a_bad_playbook_or_an_unreachable_engine(tmp_path):
    document = tmp_path / "agreement.txt"
    document.write_text("\n\n".join(TEXT) + "\n")
    missing = _cli(str(document), "--playbook", str(tmp_path / "nope.json"), "--engine", "http://127.0.0.1:9/v1", "--model", "m")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "playbook_invalid" in missing.stderr
    down = _cli(str(document), "--playbook", "report", "--engine", "http://127.0.0.1:9/v1", "--model", "m")
    assert down.returncode == 3 and "Traceback" not in down.stderr and down.stderr.strip(), down.stderr

"""`analysis evaluate`: a model's contract review scored against CUAD's expert labels by CUAD's own test (white space
and quote typography folded), beside the first pass on the same contract. The engine is scripted here, so every
figure can be worked out by hand from the labels."""

from __future__ import annotations

import json
import threading
import time
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.evaluation import evaluate, labelled_contracts
from analysis.playbooks import load
from engine.api import GenerationResult
from tests.conftest import CORPUS
from tests.doubles import ScriptedEngine
from tests.scripted_server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
FOLDER = CORPUS / "contracts_cuad"
NAME = "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT"


def _finding(item, present, quotes):
    return {"item": item, "present": present, "answer": "", "quotes": quotes, "risk": "none", "risk_note": ""}


def test_verified_quotes_are_scored_by_cuads_rule_and_presence_against_the_labels():
    labels = json.loads((FOLDER / f"{NAME}.labels.json").read_text())["labels"]
    governing = labels["Governing Law"]["context"][0]
    reply = json.dumps({"findings": [
        # CUAD's .txt excerpt as the model might copy it from the PDF: found, and matching the expert's excerpt
        _finding("governing_law", True, [governing]),
        # the agreement date in the expert's own three words: Jaccard 1
        _finding("agreement_date", True, ["October 1, 2019"]),
        # present and quoted, but words the contract does not hold: marked, never scored as a prediction
        _finding("non_compete", True, ["The Provider shall not compete anywhere in the universe."]),
        # absent where the experts found nothing: right; absent where they labelled a clause: wrong
        _finding("exclusivity", False, []),
        _finding("anti_assignment", False, []),
    ]})
    pairs = [pair for pair in labelled_contracts(FOLDER) if pair[0].stem == NAME]
    result = evaluate(pairs, ScriptedEngine([reply]), load("contract"), engine_label="scripted", max_tokens=8192)
    report = result.as_json()
    categories = report["categories"]
    assert categories["Governing Law"]["precision"] == 1.0 and categories["Governing Law"]["recall"] == 1.0
    assert categories["Agreement Date"]["precision"] == 1.0
    assert categories["Non-Compete"]["predictions"] == 0 and categories["Non-Compete"]["verified_share"] == 0.0
    assert categories["Anti-Assignment"]["presence_accuracy"] == 0.0 and categories["Exclusivity"]["presence_accuracy"] == 1.0
    overall = report["overall"]
    assert overall["precision"] == 1.0 and overall["verified_share"] == round(2 / 3, 4)
    labelled = sum(len(v["context"]) for v in labels.values())
    assert overall["recall"] == round(2 / labelled, 4)
    # 41 questions; wrong: the 9 labelled categories, less the two it found, plus Non-Compete (unlabelled, said present)
    assert overall["presence_accuracy"] == round((41 - 9 + 2 - 1) / 41, 4)
    assert report["contracts"] == 1 and overall["failed_share"] == 0.0 and overall["repaired_share"] == 0.0
    first = report["first_pass"]["overall"]
    assert first["questions"] == 41 and first["excerpts"] == labelled and first["precision"] is not None


def test_a_failed_review_counts_as_failed_and_answers_nothing():
    pairs = [pair for pair in labelled_contracts(FOLDER) if pair[0].stem == NAME]
    result = evaluate(pairs, ScriptedEngine(["not json", "still not json"]), load("contract"), engine_label="scripted",
                      max_tokens=8192).as_json()
    assert result["overall"]["failed_share"] == 1.0 and result["overall"]["predictions"] == 0
    assert "even after one retry" in result["runs"][0]["failed"]


def test_the_command_prints_the_json_the_issue_names_against_an_openai_compatible_server():
    with ScriptedServer() as server:
        done = subprocess.run([sys.executable, "-m", "analysis", "evaluate", "--engine", server.url, "--contracts",
                               str(FOLDER), "--limit", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["contracts"] == 2 and report["engine"] == server.url and report["model"] == "scripted-reader"
    assert {"precision", "recall", "presence_accuracy", "verified_share", "repaired_share", "failed_share",
            "prompt_tokens", "seconds_per_contract"} <= set(report["overall"])
    assert "Parties" in report["categories"] and set(report["first_pass"]) == {"overall", "categories"}
    # The scripted reader quotes one real sentence and one invented one for its first item.
    assert 0 < report["overall"]["verified_share"] < 1


def test_without_an_engine_only_the_first_pass_is_scored():
    pairs = [pair for pair in labelled_contracts(FOLDER) if pair[0].stem == NAME]
    report = evaluate(pairs, None, load("contract"), engine_label="none", max_tokens=8192).as_json()
    assert report["contracts"] == 1 and report["runs"] == [] and report["overall"]["questions"] == 0
    assert report["first_pass"]["overall"]["questions"] == 41


class _QuotingEngine(ScriptedEngine):
    """Answers every call alike from its own prompt: the governing-law item quotes the window's line that names
    the governing law (verified where the window holds one), so replies do not depend on the order of calls.
    Counts how many calls were in flight at once."""

    def __init__(self, wait_for_company: bool = False) -> None:
        super().__init__(replies=[])
        self.wait_for_company = wait_for_company
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    def generate(self, request, on_progress=None, cancel=None):
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.wait_for_company:  # the first calls wait (a while, not for ever) until another call overlaps them
            deadline = time.monotonic() + 20
            while self.most_in_flight < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        prompt = "\n".join(m.content for m in request.messages)
        line = next((ln.strip() for ln in prompt.splitlines() if "governed by" in ln.lower() and len(ln) < 400), "")
        reply = json.dumps({"findings": [_finding("governing_law", bool(line), [line] if line else [])]})
        with self._lock:
            self.in_flight -= 1
        words = max(1, self.count_tokens(reply))
        return GenerationResult(reply, (1,) * words, self.count_tokens(prompt), words, "stop")


def test_contracts_reviewed_in_parallel_score_as_they_do_one_at_a_time():
    pairs = labelled_contracts(FOLDER, limit=3)
    one_by_one = evaluate(pairs, _QuotingEngine(), load("contract"), engine_label="e", max_tokens=8192).as_json()
    engine = _QuotingEngine(wait_for_company=True)
    together = evaluate(pairs, engine, load("contract"), engine_label="e", max_tokens=8192, parallel=3).as_json()
    assert engine.most_in_flight > 1
    assert [r["name"] for r in together["runs"]] == [p[0].stem for p in pairs]
    for report in (one_by_one, together):
        for run in report["runs"]:
            run.pop("seconds")
        report["overall"].pop("seconds_per_contract")
    assert together == one_by_one
    assert together["categories"]["Governing Law"]["verified_share"] > 0

"""`python -m analysis.ingest`: one JSON object, exact text, exit codes, no tracebacks."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACT = (
    "contracts_cuad/"
    "MphaseTechnologiesInc_20030911_10-K_EX-10.15_1560667_EX-10.15_Co-Branding Agreement.pdf"
)
KEYS = {
    "path", "kind", "pages", "chars", "tokens", "tokens_estimate", "page_starts",
    "text_sha256", "language", "title", "author", "warnings", "error",
}  # fmt: skip


@dataclass(frozen=True)
class Run:
    code: int
    stdout: bytes
    stderr: str

    def json(self) -> dict:
        lines = self.stdout.decode("utf-8").splitlines()
        assert len(lines) == 1, "exactly one JSON object on one line"
        return json.loads(lines[0])


def cli(*args: str | Path) -> Run:
    completed = subprocess.run(
        [sys.executable, "-m", "analysis.ingest", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    stderr = completed.stderr.decode("utf-8", errors="replace")
    assert b"Traceback" not in completed.stdout
    assert "Traceback" not in stderr
    return Run(completed.returncode, completed.stdout, stderr)


def test_json_summary_of_a_contract_matches_the_text_output(corpus: Path) -> None:
    path = corpus / CONTRACT
    run = cli(path, "--json")
    assert run.code == 0, run.stderr
    summary = run.json()
    assert set(summary) == KEYS
    assert summary["path"] == str(path)
    assert summary["kind"] == "pdf"
    assert summary["error"] is None
    assert summary["tokens"] is None  # no engine tokenizer configured
    assert summary["pages"] == len(summary["page_starts"]) > 1
    assert summary["page_starts"][0] == 0
    assert summary["page_starts"] == sorted(summary["page_starts"])
    assert summary["tokens_estimate"] == -(-summary["chars"] // 4)
    assert summary["language"] == "en"

    text = cli(path, "--text")
    assert text.code == 0
    assert hashlib.sha256(text.stdout).hexdigest() == summary["text_sha256"]
    assert len(text.stdout.decode("utf-8")) == summary["chars"]

    both = cli(path, "--json", "--text").json()
    assert set(both) == KEYS | {"text"}
    assert hashlib.sha256(both["text"].encode("utf-8")).hexdigest() == summary["text_sha256"]


def test_empty_file_is_a_document_error(corpus: Path) -> None:
    run = cli(corpus / "pdfs/empty.pdf", "--json")
    assert run.code == 2
    summary = run.json()
    assert set(summary) == KEYS
    assert summary["error"]["code"] == "empty"
    assert summary["error"]["message"]
    assert summary["pages"] is None and summary["page_starts"] == []
    assert summary["text_sha256"] is None


def test_encrypted_pdf_without_password_asks_for_one(corpus: Path) -> None:
    run = cli(corpus / "pdfs/password-example.pdf", "--json")
    assert run.code == 2
    assert run.json()["error"]["code"] == "password_required"

    human = cli(corpus / "pdfs/password-example.pdf")
    assert human.code == 2
    assert human.stdout == b""
    assert human.stderr.startswith("error (password_required): ")


def test_encrypted_pdf_opens_with_its_password(corpus: Path) -> None:
    run = cli(corpus / "pdfs/password-example.pdf", "--password", "test", "--json")
    assert run.code == 0, run.stderr
    summary = run.json()
    assert summary["error"] is None
    assert summary["pages"] == len(summary["page_starts"]) == 4


def test_wrong_password_is_never_echoed(corpus: Path) -> None:
    secret = "s3cr3t-Pa55-xyzzy"
    for extra in (["--json"], []):
        run = cli(corpus / "pdfs/password-example.pdf", "--password", secret, *extra)
        assert run.code == 2
        assert secret not in run.stdout.decode("utf-8") + run.stderr
    assert cli(corpus / "pdfs/password-example.pdf", "--password", secret, "--json").json()[
        "error"
    ]["code"] == "password_wrong"


def test_human_summary_says_pages_are_estimated(corpus: Path) -> None:
    run = cli(corpus / "docx/yc-safe-valuation-cap.docx")
    assert run.code == 0
    output = run.stdout.decode("utf-8")
    assert output.startswith("kind: docx (Word document (DOCX))\n")
    assert "(estimated)" in output.splitlines()[1]
    assert "warning: Page numbers are estimates" in output


def test_a_missing_file_fails_in_one_line(tmp_path: Path) -> None:
    run = cli(tmp_path / "nowhere.pdf", "--json")
    assert run.code == 1
    assert run.json()["error"]["code"] == "unexpected"
    human = cli(tmp_path / "nowhere.pdf")
    assert human.code == 1
    assert len(human.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "name", ["pdfs/zen_of_python_corrupted.pdf", "pdfs/issue-1113-evil-xobjects.pdf"]
)
def test_damaged_files_never_show_a_traceback(corpus: Path, name: str) -> None:
    run = cli(corpus / name, "--json")
    assert run.code in (0, 2)
    assert set(run.json()) == KEYS

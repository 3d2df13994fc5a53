"""The isolated runner: same result as in-process ingestion, and every way a child can fail ends
as a typed error while the calling process carries on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from analysis.errors import IngestTimeoutError, PasswordRequiredError, QuireError
from analysis.ingest import ingest
from analysis.ingest.isolated import ingest_isolated
from analysis.ingest.limits import IngestLimits

CONTRACT = "contracts_cuad/CcRealEstateIncomeFundadv_20181205_POS 8C_EX-99.(H)(3)_11447739_EX-99.(H)(3)_Marketing Agreement.pdf"


def test_isolated_result_equals_in_process_result(corpus: Path) -> None:
    path = corpus / CONTRACT
    stages = []
    isolated = ingest_isolated(path, ocr=False, progress=lambda done, total, stage: stages.append((done, total)))
    direct = ingest(path, ocr=False)
    assert isolated == direct
    assert stages and stages[-1][0] == stages[-1][1] == len(direct.pages)


def test_document_errors_come_back_typed(corpus: Path) -> None:
    with pytest.raises(PasswordRequiredError) as info:
        ingest_isolated(corpus / "pdfs" / "password-example.pdf")
    assert info.value.code == "password_required"


def test_a_runaway_child_is_stopped_at_the_time_budget(corpus: Path) -> None:
    with pytest.raises(IngestTimeoutError) as info:
        ingest_isolated(corpus / "long" / "freeculture.pdf", limits=IngestLimits(time_budget_s=0.3))
    assert "took longer than" in info.value.message


@pytest.mark.parametrize("megabytes", [48, 120])
def test_a_child_starved_of_memory_fails_cleanly_and_the_caller_goes_on(corpus: Path, megabytes: int) -> None:
    with pytest.raises(QuireError) as info:
        ingest_isolated(corpus / "long" / "freeculture.pdf", ocr=False, limits=IngestLimits(memory_bytes=megabytes << 20))
    assert info.value.code in {"too_large", "corrupt"}
    assert "memory" in info.value.message
    assert ingest_isolated(corpus / CONTRACT, ocr=False).pages


def _children_running_isolated() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"analysis.ingest.isolated" in cmdline and ppid == os.getpid():
            pids.append(int(entry))
    return pids


def test_a_crashing_child_becomes_a_corrupt_error_and_the_caller_survives(corpus: Path) -> None:
    def crash_on_first_page(done: int, total: int, stage: str) -> None:
        for pid in _children_running_isolated():
            os.kill(pid, signal.SIGSEGV)

    with pytest.raises(QuireError) as info:
        ingest_isolated(corpus / "long" / "freeculture.pdf", ocr=False, progress=crash_on_first_page)
    assert info.value.code == "corrupt"
    assert "crashed" in info.value.message
    # The caller goes on: the next document reads normally.
    assert ingest_isolated(corpus / CONTRACT, ocr=False).pages


def test_missing_file_is_an_os_error_not_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ingest_isolated(tmp_path / "gone.pdf", kind="pdf")

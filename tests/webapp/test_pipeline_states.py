"""The document state machine (webapp/pipeline/states.py): moves start only from the states the table allows, the
progress bands tile the bar, and no other module writes a document's status, percent or stage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import factories
from webapp.documents.models import DocumentStatus
from webapp.pipeline import states

S = DocumentStatus
WEBAPP = Path(__file__).resolve().parents[2] / "webapp"


def test_bands_tile_the_bar_and_only_grow():
    assert states.INGEST.low > 0 and states.INGEST.high == states.READ.low and states.READ.high == states.MODEL.low
    assert states.MODEL.high < states.DONE == 100
    assert [states.INGEST.percent(f) for f in (-1, 0, 0.5, 1, 2)] == [1, 1, 30, 60, 60]


def test_a_move_happens_only_from_an_allowed_state(db, workspace):
    document = factories.make_document(workspace, status=S.QUEUED)
    assert not states.document_move(document.pk, to=S.READY, stage="Ready")  # queued cannot jump to ready
    assert states.document_move(document.pk, to=S.INGESTING, stage="Opening the file", progress=1)
    assert states.document_move(document.pk, to=S.ANALYSING, stage="Waiting", progress=60)
    assert states.document_move(document.pk, to=S.READY, stage="Ready")
    document.refresh_from_db()
    assert (document.status, document.progress, document.stage) == (S.READY, 100, "Ready")
    assert not states.document_fail(document_id=document.pk, code="late", message="a late failure")  # ready stays
    assert not states.document_move(document.pk, to=S.QUEUED, stage="Queued again")  # only failed ones are retried
    document.refresh_from_db()
    assert document.status == S.READY and document.error_code == ""


def test_a_move_the_table_lacks_is_a_bug_not_a_no_op(db, workspace):
    document = factories.make_document(workspace, status=S.READY)
    with pytest.raises(states.IllegalMoveError):
        states.document_move(document.pk, to=S.INGESTING, stage="x", only_from={S.READY})


def test_progress_is_written_only_while_the_document_is_in_the_step(db, workspace):
    document = factories.make_document(workspace, status=S.INGESTING)
    progress = states.DocumentProgress(document.pk, states.INGEST)
    progress.report(0.5, "Reading page 3", force=True)
    document.refresh_from_db()
    assert (document.progress, document.stage) == (30, "Reading page 3")
    states.document_fail(document_id=document.pk, code="bad_file", message="The file is damaged.")
    progress.report(0.9, "Reading page 9", force=True)  # a worker still reporting after its document failed
    document.refresh_from_db()
    assert (document.status, document.stage, document.error_code) == (S.FAILED, "Failed", "bad_file")


def _writes_of_document_state(tree: ast.AST) -> list[int]:
    """Lines with `.update(...)`/`.create(...)` calls naming status, progress or stage on a Document queryset, or
    assignments to document.status/.progress/.stage."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
            names = {k.arg for k in node.keywords}
            if names & {"status", "progress", "stage"} and "Document.objects" in ast.unparse(node.func):
                found.append(node.lineno)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in {"status", "progress", "stage"} \
                        and ast.unparse(target.value) in {"document", "locked"}:
                    found.append(node.lineno)
    return found


def test_only_the_state_machine_writes_a_documents_status_percent_or_stage():
    writers = {}
    for path in WEBAPP.rglob("*.py"):
        if "migrations" in path.parts or path == WEBAPP / "pipeline" / "states.py":
            continue
        lines = _writes_of_document_state(ast.parse(path.read_text()))
        if lines:
            writers[str(path.relative_to(WEBAPP))] = lines
    assert writers == {}
    # The check sees such a write where there is one.
    assert _writes_of_document_state(ast.parse((WEBAPP / "pipeline" / "states.py").read_text()))

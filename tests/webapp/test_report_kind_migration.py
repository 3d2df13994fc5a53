"""Reports stored when every report was of kind "ingestion_facts" get their kind from their first pass, and the
migration goes back cleanly."""

from __future__ import annotations

import importlib

from django.apps import apps

from tests import factories
from webapp.reports.models import Report

migration = importlib.import_module("webapp.reports.migrations.0005_report_kind_from_first_pass")

CONTRACT_FIRST_PASS = {"format": 1, "clauses": [], "key_terms": [], "sections": [], "defined_terms": [],
                       "cross_references": [], "signatures": [],
                       "parties": {"start": 0, "end": 40, "pages": [1],
                                   "parties": [{"name": "Acme Corp", "start": 10, "end": 19, "short_name": "Acme"}]}}


def _old_report(workspace, first_pass) -> Report:
    document = factories.make_document(workspace, content=repr(first_pass).encode())
    return Report.objects.create(document=document, kind=migration.OLD_KIND, title=migration.OLD_TITLE, facts=[],
                                 first_pass=first_pass)


def test_old_reports_take_the_kind_their_first_pass_gives_and_can_go_back(db, workspace):
    contract = _old_report(workspace, CONTRACT_FIRST_PASS)
    before_first_pass = _old_report(workspace, {})  # made before the first pass existed
    failed = _old_report(workspace, {"format": 1, "error": "The first pass failed (ValueError)."})
    migration.kind_from_first_pass(apps, None)
    kinds = {r.pk: (r.kind, r.title) for r in Report.objects.all()}
    assert kinds[contract.pk] == ("contract", "Contract: first pass")
    assert kinds[before_first_pass.pk] == kinds[failed.pk] == ("report", "Report: first pass")
    migration.back_to_ingestion_facts(apps, None)
    assert set(Report.objects.values_list("kind", "title")) == {(migration.OLD_KIND, migration.OLD_TITLE)}

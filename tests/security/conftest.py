"""Two workspaces that must never see each other, with a member of every role in the first."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from tests import factories

FOREIGN_SECRET = "secret terms of B"
FOREIGN_NAME = "B team"


@dataclass
class World:
    workspace: object
    owner: object
    editor: object
    viewer: object
    document: object
    foreign_workspace: object
    foreign_owner: object
    foreign_document: object
    foreign_membership: object
    foreign_analysis: object = None
    foreign_finding: object = None
    foreign_batch: object = None
    foreign_export: object = None


@pytest.fixture
def world(db) -> World:
    from webapp.reports.models import Analysis, Anchor, Finding, FollowUp, Report
    from django.core.files.base import ContentFile

    from webapp.tables.models import BatchRun, TableExport

    owner = factories.make_user("olivia")
    workspace = factories.make_workspace(owner, name="Acme contracts")
    editor, viewer = factories.make_user("eddie"), factories.make_user("vera")
    factories.add_member(workspace, editor, "editor")
    factories.add_member(workspace, viewer, "viewer")
    document = factories.make_document(workspace, content=b"Our own agreement.", original_name="ours.txt")
    Report.objects.create(document=document, kind="ingestion_facts", title="Facts", facts=[])

    foreign_owner = factories.make_user("bruno")
    foreign_workspace = factories.make_workspace(foreign_owner, name=FOREIGN_NAME)
    foreign_member = factories.make_user("bea")
    foreign_membership = factories.add_member(foreign_workspace, foreign_member, "editor")
    foreign_document = factories.make_document(
        foreign_workspace, content=FOREIGN_SECRET.encode(), original_name="b-secret-plan.txt"
    )
    Report.objects.create(document=foreign_document, kind="ingestion_facts", title="Facts", facts=[
        {"label": "Secret", "value": FOREIGN_SECRET}
    ])
    # A finished analysis of the foreign document, with a finding, a quote and a follow-up that all say the secret.
    foreign_analysis = Analysis.objects.create(
        document=foreign_document, playbook={"name": "contract"}, playbook_name="contract", playbook_title=FOREIGN_NAME,
        playbook_version=1, status="ready", model_id="m")
    foreign_finding = Finding.objects.create(analysis=foreign_analysis, position=0, item="parties", category="Parties",
                                             present=True, answer=FOREIGN_SECRET, risk="high", risk_note=FOREIGN_SECRET)
    Anchor.objects.create(finding=foreign_finding, position=0, quote=FOREIGN_SECRET, verified=True, start=0,
                          end=len(FOREIGN_SECRET), pages=[1])
    FollowUp.objects.create(document=foreign_document, question=FOREIGN_SECRET, answer=FOREIGN_SECRET, status="answered")
    foreign_batch = BatchRun.objects.create(workspace=foreign_workspace, playbook_name="contract",
                                            playbook_title=FOREIGN_NAME, skipped={FOREIGN_SECRET: 1})
    foreign_batch.analyses.add(foreign_analysis)
    foreign_export = TableExport.objects.create(workspace=foreign_workspace, user=foreign_owner, fmt="csv",
                                                status="ready", filename="b-secret-plan.csv",
                                                file=ContentFile(FOREIGN_SECRET.encode(), name="secret.csv"))
    return World(workspace, owner, editor, viewer, document, foreign_workspace, foreign_owner, foreign_document,
                 foreign_membership, foreign_analysis, foreign_finding, foreign_batch, foreign_export)


@pytest.fixture
def client_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_for(db):
    """An API client authenticated with a real bearer token of `user`."""
    from webapp.api.tokens import token_create

    def make(user) -> Client:
        raw = token_create(user=user, name="tests").raw
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return make

"""Small builders for the rows tests need. Plain functions: no factory library to learn."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.base import ContentFile

from webapp.accounts.services import account_email_confirm
from webapp.documents.models import Document, DocumentStatus
from webapp.workspaces.models import Membership, Workspace

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(name: str | None = None, **extra):
    """An account as it is once its owner has followed the verification link (or as the data migration left an account
    of the release before django-allauth); verified=False leaves the address unverified."""
    name = name or f"user{next(_counter)}"
    verified = extra.pop("verified", True)
    user = get_user_model().objects.create_user(
        username=name, email=extra.pop("email", f"{name}@example.com"), password=PASSWORD, **extra
    )
    if verified:
        account_email_confirm(user=user)
    return user


def make_workspace(owner=None, name: str = "Contracts") -> Workspace:
    owner = owner or make_user()
    workspace = Workspace.objects.create(name=name, created_by=owner)
    Membership.objects.create(workspace=workspace, user=owner, role="owner")
    return workspace


def add_member(workspace: Workspace, user, role: str) -> Membership:
    return Membership.objects.create(workspace=workspace, user=user, role=role)


def make_document(workspace: Workspace, *, content: bytes = b"Plain text body.", status=DocumentStatus.READY, **extra) -> Document:
    document = Document(
        workspace=workspace,
        original_name=extra.pop("original_name", f"doc-{uuid.uuid4().hex[:6]}.txt"),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        kind="text",
        status=status,
        **extra,
    )
    document.file.save("upload", ContentFile(content), save=False)
    document.save()
    return document


def make_document_from_file(workspace: Workspace, path: Path, kind: str) -> Document:
    """A queued document holding a real file (e.g. from the shared corpus), as an upload would store it."""
    document = Document(
        workspace=workspace,
        original_name=path.name,
        size=path.stat().st_size,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        kind=kind,
    )
    with path.open("rb") as handle:
        document.file.save("upload", File(handle), save=False)
    document.save()
    return document


# Three real CUAD checking contracts the workspace-table tests read (as CUAD's text, for speed).
TABLE_CONTRACTS = (
    "ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT",
    "ADIANUTRITION,INC_04_01_2005-EX-10.D2-RESELLER AGREEMENT",
    "AFSALABANCORPINC_08_01_1996-EX-1.1-AGENCY AGREEMENT",
)


def make_ready_analysis(document, answers: dict[str, tuple[str, str, bool]], *, model_id: str = "table-test"):
    """A ready contract review of `document` answering the items in `answers` (item -> (answer, risk, present)),
    each with one verified quote at the start of the document."""
    from webapp.reports.models import Analysis, AnalysisStatus, Anchor, Finding

    analysis = Analysis.objects.create(document=document, playbook={"name": "contract"}, playbook_name="contract",
                                       playbook_title="Contract review", playbook_version=1, engine="openai",
                                       model_id=model_id, status=AnalysisStatus.READY, progress=100, windows=1)
    for n, (item, (answer, risk, present)) in enumerate(answers.items()):
        finding = Finding.objects.create(analysis=analysis, position=n, item=item, category=item.title(),
                                         present=present, answer=answer, risk=risk)
        Anchor.objects.create(finding=finding, position=0, quote=document.text[:40], verified=True, start=0, end=40,
                              pages=[1], exact=True, score=1.0)
    return analysis


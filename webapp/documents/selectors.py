"""Reads of documents, always narrowed to the workspaces the user belongs to."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from webapp.documents.models import Document
from webapp.workspaces import permissions
from webapp.workspaces.models import Workspace


def document_list(*, user, workspace: Workspace) -> QuerySet[Document]:
    return permissions.visible_to(Document.objects.filter(workspace=workspace), user=user).defer("text")


def document_filter(queryset: QuerySet[Document], *, status: str | None = None, kind: str | None = None,
                    name: str | None = None, playbook: str | None = None) -> QuerySet[Document]:
    """The list filters of the workspace page and the API; unknown values simply match nothing."""
    if playbook:
        queryset = queryset.filter(analyses__playbook_name=playbook).distinct()
    if status:
        queryset = queryset.filter(status=status)
    if kind:
        queryset = queryset.filter(kind=kind)
    if name:
        # PostgreSQL refuses NUL in text, and no stored name holds one.
        queryset = queryset.filter(original_name__icontains=name.replace("\x00", "").strip())
    return queryset


def document_get(*, user, document_id) -> Document:
    """The document if its workspace is one of the user's; 404 otherwise, whether or not it exists."""
    document = (
        permissions.visible_to(Document.objects.all(), user=user)
        .select_related("workspace")
        .defer("text")
        .filter(pk=document_id)
        .first()
    )
    if document is None:
        raise Http404("No such document.")
    return document


def document_status_payload(document: Document) -> dict:
    """The live state the pages poll for: small, and free of anything the document says."""
    return {
        "id": str(document.id),
        "kind": document.kind,
        "status": document.status,
        "status_label": document.get_status_display(),
        "progress": document.progress,
        "stage": document.stage,
        "error": document.error_message,
        "terminal": document.is_terminal,
        "page_count": document.page_count,
    }

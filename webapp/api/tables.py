"""The API's workspace table and batch runs: the same selectors and services as the table page
(webapp/tables/), so a cell, a filter or a refusal reads the same here as there. Never a rule of its own
beyond checking input: access is the permissions module's, queuing the pipeline's."""

from __future__ import annotations

import uuid
from dataclasses import replace

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import serializers as s
from webapp.documents.models import DocumentStatus
from webapp.documents.selectors import document_list
from webapp.reports.playbooks import playbook_choices, playbook_for_workspace
from webapp.tables import batches
from webapp.tables.columns import table_columns
from webapp.tables.models import BatchRun
from webapp.tables.query import MAX_FILTERS, OPS, REVIEW_FILTERS, RISKS, TableQuery, cursor_decode, parse_table_query
from webapp.tables.selectors import Cell, TablePage, batch_get, table_page
from webapp.workspaces import permissions
from webapp.workspaces import selectors as workspaces
from webapp.workspaces.permissions import Action

NOT_FOUND = OpenApiResponse(description="Not found, or not in one of your workspaces.")
EDITORS_ONLY = OpenApiResponse(description="Your role does not allow running analyses (viewers).")
UNKNOWN_IDS_SHOWN = 20  # a refusal names at most this many of the ids it did not find

_FILTER_PARAMETERS = [
    parameter
    for n in range(MAX_FILTERS)
    for parameter in (
        OpenApiParameter(f"f{n}_col", str, description=f"Cell filter {n}: a column key (see `columns`)."),
        OpenApiParameter(f"f{n}_op", str, enum=list(OPS), description=f"Cell filter {n}: what the cell must do."),
        OpenApiParameter(f"f{n}_val", str, description=f"Cell filter {n}: the text for `contains`, the level for "
                                                       f"`risk` ({', '.join(RISKS)})."),
    )
]
TABLE_PARAMETERS = [
    OpenApiParameter("playbook", str, description="The playbook whose items are the columns (default contract)."),
    OpenApiParameter("name", str, description="Document name contains this (case-insensitive)."),
    OpenApiParameter("status", str, enum=DocumentStatus.values, description="Only documents in this state."),
    OpenApiParameter("kind", str, description="Only this kind: pdf, docx, text, markdown, html."),
    OpenApiParameter("review", str, enum=list(REVIEW_FILTERS),
                     description="Only rows with a finding in this review state."),
    *_FILTER_PARAMETERS,
    OpenApiParameter("sort", str, description="name, or a column key; newest document first when absent."),
    OpenApiParameter("dir", str, enum=["asc", "desc"], description="Sort direction (ascending unless desc)."),
    OpenApiParameter("after", str, description="The `next` of the previous page."),
]


def _params(request) -> dict[str, str]:
    """The query string, one value a name, with NUL characters (which PostgreSQL refuses in text) taken out."""
    return {key: value.replace("\x00", "") for key, value in request.query_params.items()}


def _usable_cursor(query: TableQuery) -> TableQuery:
    """Drop a cursor the selector would choke on (an edited or forged one): the page starts from the top, as it
    does for any cursor that is not ours."""
    decoded = cursor_decode(query.after) if query.after else None
    if decoded is None:
        return query
    value, pk = decoded
    try:
        uuid.UUID(pk)
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL in a cursor")
        if not query.sort and isinstance(value, str):
            parse_datetime(value)  # raises ValueError for a well-formed impossible date
    except ValueError:
        return replace(query, after="")
    return query


def _cell(cell: Cell | None) -> dict | None:
    if cell is None:
        return None
    return {"source": cell.source, "text": cell.text, "present": cell.present, "risk": cell.risk,
            "verified": cell.verified, "score": cell.score, "review_state": cell.review_state,
            "finding": cell.finding_id, "assigned_to": cell.assigned_to, "url": cell.url}


def table_body(page: TablePage, columns) -> dict:
    rows = []
    for row in page.rows:
        run = row.run
        rows.append({
            "document": {"id": row.document.id, "name": row.document.original_name, "status": row.document.status},
            "source": "model" if row.analysis_id else "first_pass",
            "analysis": row.analysis_id,
            "run": None if run is None else {"analysis": run.analysis_id, "status": run.status,
                                             "progress": run.progress, "stage": run.stage, "error": run.error},
            "cells": {column.key: _cell(cell) for column, cell in zip(columns, row.cells, strict=True)},
        })
    return {"columns": [{"key": c.key, "title": c.title} for c in columns], "rows": rows,
            "next": page.next_cursor or None, "total": page.total}


class WorkspaceTableView(APIView):
    @extend_schema(parameters=TABLE_PARAMETERS, responses={200: s.TablePageSerializer, 404: NOT_FOUND},
                   summary="The workspace table: documents by a playbook's items, 50 rows a page (any member)",
                   description="Each cell is the model's finding where a ready analysis of the playbook exists, else "
                               "the first pass's best passage. Unknown filters, columns and values are ignored.")
    def get(self, request, workspace_id):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        params = _params(request)
        names = {c.name for c in playbook_choices(workspace=workspace)}
        wanted = params.get("playbook") or "contract"
        columns = table_columns(playbook_for_workspace(workspace=workspace, name=wanted if wanted in names else "contract"))
        query = _usable_cursor(parse_table_query(params, columns=columns, playbooks=names))
        page = table_page(user=request.user, workspace=workspace, columns=columns, query=query)
        return Response(s.TablePageSerializer(table_body(page, columns)).data)


class BatchRunListView(generics.ListAPIView):
    serializer_class = s.BatchRunSerializer

    def get_queryset(self):
        workspace = workspaces.workspace_get(user=self.request.user, workspace_id=self.kwargs["workspace_id"])
        return (permissions.visible_to(BatchRun.objects.filter(workspace=workspace), user=self.request.user)
                .select_related("requested_by").order_by("-created_at", "-id"))

    @extend_schema(summary="The workspace's batch runs, newest first, with their progress",
                   responses={200: s.BatchRunSerializer(many=True), 404: NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.BatchStartSerializer,
                   responses={202: s.BatchRunSerializer, 400: OpenApiResponse(description="Invalid input, an unknown "
                              "playbook or document, or nothing to queue."), 403: EDITORS_ONLY, 404: NOT_FOUND},
                   summary="Run a playbook over many documents at once (editors and owners)",
                   description="One analysis per ready document; a document that is not ready, or already has this "
                               "playbook queued or running, is skipped and counted under its reason in `skipped`.")
    def post(self, request, workspace_id):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        permissions.require(user=request.user, workspace=workspace, action=Action.ANALYSE)
        data = s.BatchStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        documents = document_list(user=request.user, workspace=workspace)
        if not data.validated_data["all"]:
            wanted = set(data.validated_data["documents"])
            documents = documents.filter(pk__in=wanted)
            unknown = wanted - set(documents.values_list("pk", flat=True))
            if unknown:
                shown = ", ".join(sorted(str(u) for u in unknown)[:UNKNOWN_IDS_SHOWN])
                raise ValidationError({"documents": [f"Not documents of this workspace: {shown}."]})
        batch = batches.batch_start(workspace=workspace, user=request.user, playbook_name=data.validated_data["playbook"],
                                    documents=documents.order_by("-created_at", "-id"))
        return Response(s.BatchRunSerializer(batch).data, status=202)


class BatchRunDetailView(APIView):
    @extend_schema(responses={200: s.BatchRunSerializer, 404: NOT_FOUND},
                   summary="One batch run: its progress and the reasons documents were skipped")
    def get(self, request, batch_id):
        return Response(s.BatchRunSerializer(batch_get(user=request.user, batch_id=batch_id)).data)


class BatchRunCancelView(APIView):
    @extend_schema(request=None, responses={202: s.BatchRunSerializer, 403: EDITORS_ONLY, 404: NOT_FOUND},
                   summary="Cancel every queued or running analysis of a batch (editors and owners)")
    def post(self, request, batch_id):
        batch = batch_get(user=request.user, batch_id=batch_id)
        batches.batch_cancel(batch=batch, user=request.user)
        return Response(s.BatchRunSerializer(batch_get(user=request.user, batch_id=batch_id)).data, status=202)


class BatchRunRerunView(APIView):
    @extend_schema(request=None, responses={202: s.BatchRunSerializer, 403: EDITORS_ONLY, 404: NOT_FOUND},
                   summary="Queue the batch's failed analyses again (editors and owners)",
                   description="One new analysis for each document whose analysis in this batch failed and has not "
                               "been run again since; the batch's progress counts them from then on.")
    def post(self, request, batch_id):
        batch = batch_get(user=request.user, batch_id=batch_id)
        batches.batch_rerun_failed(batch=batch, user=request.user)
        return Response(s.BatchRunSerializer(batch_get(user=request.user, batch_id=batch_id)).data, status=202)

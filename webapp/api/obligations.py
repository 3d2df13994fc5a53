"""The API's obligations: a workspace's dated obligations, each with the passage it was computed from and the
report page that shows it. The same selector as the calendar page; any member reads."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers

from analysis.obligations.model import KINDS
from webapp.obligations.feeds import passage_url
from webapp.obligations.models import Obligation
from webapp.obligations.selectors import obligations_for_workspace
from webapp.workspaces import selectors as workspaces


class ObligationSerializer(serializers.ModelSerializer):
    document = serializers.UUIDField(source="document_id", read_only=True)
    document_name = serializers.CharField(source="document.original_name", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Obligation
        fields = ["id", "document", "document_name", "kind", "date", "start", "end", "page", "text", "derivation",
                  "passages", "url"]

    def get_url(self, row: Obligation) -> str:
        return passage_url(row)


class ObligationListView(generics.ListAPIView):
    serializer_class = ObligationSerializer

    @extend_schema(parameters=[
        OpenApiParameter("kind", str, enum=list(KINDS), description="Only obligations of this kind."),
        OpenApiParameter("document", str, description="Only this document's (its id)."),
        OpenApiParameter("when", str, enum=["upcoming", "past", "all"],
                         description="upcoming (default, earliest first), past (latest first) or all (by date)."),
    ], responses={404: OpenApiResponse(description="Not found, or not in one of your workspaces.")},
        summary="The workspace's dated obligations, each traced to its passage")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        workspace = workspaces.workspace_get(user=self.request.user, workspace_id=self.kwargs["workspace_id"])
        when = self.request.query_params.get("when", "upcoming")
        document = self.request.query_params.get("document", "")
        rows = obligations_for_workspace(user=self.request.user, workspace=workspace,
                                         kind=self.request.query_params.get("kind", ""),
                                         document_id=document if _is_uuid(document) else "",
                                         past={"past": True, "all": None}.get(when, False))
        return rows.order_by(*(("-date", "kind", "pk") if when == "past" else ("date", "kind", "pk")))


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True

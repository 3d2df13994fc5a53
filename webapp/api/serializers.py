"""What the API shows of each object. Read-only shapes; writes go through services with small input
serializers, so the rules live in one place for pages and API."""

from __future__ import annotations

from dataclasses import asdict

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webapp.audit.models import AuditEvent
from webapp.documents.models import Document, DocumentStatus
from webapp.reports.models import Analysis, AnalysisStatus, Anchor, Finding, FollowUp, Report
from webapp.tables.batches import MAX_DOCUMENTS, batch_progress
from webapp.tables.models import BatchRun
from webapp.workspaces.models import Membership, Role, Workspace


class WorkspaceSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="The caller's role in this workspace.")

    class Meta:
        model = Workspace
        fields = ["id", "name", "role", "created_at"]

    def get_role(self, workspace: Workspace) -> str:
        roles = self.context.get("roles") or {}
        return roles.get(workspace.id, "")


class WorkspaceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "joined_at"]


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()


class DocumentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    report_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id", "workspace", "name", "kind", "size", "sha256", "status", "progress", "stage", "error_code",
            "error_message", "page_count", "word_count", "language", "uploaded_by", "created_at", "updated_at",
            "file_url", "report_url",
        ]

    def get_uploaded_by(self, document: Document) -> str:
        return document.uploaded_by.email if document.uploaded_by else ""

    def get_file_url(self, document: Document) -> str:
        return reverse("api:document-file", args=[document.id])

    def get_report_url(self, document: Document) -> str:
        return reverse("api:document-report", args=[document.id])


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False,
                                  help_text="One or more files, as multipart form fields named `files`.")


class UploadOutcomeSerializer(serializers.Serializer):
    name = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["stored", "duplicate", "rejected"])
    message = serializers.CharField()
    document = DocumentSerializer(allow_null=True)


class UploadResultSerializer(serializers.Serializer):
    results = UploadOutcomeSerializer(many=True)


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class FactSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.CharField()


class ReportSerializer(serializers.ModelSerializer):
    facts = FactSerializer(many=True)
    first_pass = serializers.JSONField(
        read_only=True,
        help_text="What the first pass read without a language model (format 1): clauses (CUAD category, start, "
                  "end, pages, score), key_terms, sections, defined_terms, cross_references, parties, signatures. "
                  "Offsets index the document's ingested text. {} for reports made before the first pass existed.",
    )

    class Meta:
        model = Report
        fields = ["document", "kind", "title", "engine", "facts", "first_pass", "created_at", "updated_at"]


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    object = serializers.CharField(source="object_label")

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "action", "actor", "object_type", "object_id", "object", "ip", "via", "detail"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField()


class AnchorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Anchor
        fields = ["quote", "verified", "start", "end", "pages", "exact", "score"]
        extra_kwargs = {"start": {"help_text": "Offset into the document's ingested text; null when not verified."},
                        "verified": {"help_text": "Found in the document. An unverified quote is the model's words only."}}


class FindingSerializer(serializers.ModelSerializer):
    quotes = AnchorSerializer(source="anchors", many=True, read_only=True)

    class Meta:
        model = Finding
        fields = ["item", "category", "present", "answer", "risk", "risk_note", "quotes"]


class AnalysisSerializer(serializers.ModelSerializer):
    class Meta:
        model = Analysis
        fields = [
            "id", "document", "automatic", "playbook_name", "playbook_title", "playbook_version", "engine", "model_id",
            "test_model", "status", "progress", "stage", "error_code", "error_message", "windows", "prompt_tokens",
            "cached_prompt_tokens", "generated_tokens", "prefill_seconds", "decode_seconds", "seconds", "repaired",
            "cited_pages", "missed_by_model", "unanswered", "created_at", "started_at", "finished_at",
        ]


class AnalysisDetailSerializer(AnalysisSerializer):
    findings = FindingSerializer(many=True, read_only=True)

    class Meta(AnalysisSerializer.Meta):
        fields = [*AnalysisSerializer.Meta.fields, "findings"]


class AnalysisStartSerializer(serializers.Serializer):
    playbook = serializers.SlugField(max_length=64, help_text="contract, report, or one of the workspace's own playbooks")


class FollowUpSerializer(serializers.ModelSerializer):
    quotes = AnchorSerializer(source="anchors", many=True, read_only=True)
    asked_by = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = ["id", "question", "status", "answer", "error_message", "asked_by", "model_id", "test_model",
                  "prompt_tokens", "cached_prompt_tokens", "seconds", "created_at", "answered_at", "quotes"]

    def get_asked_by(self, followup: FollowUp) -> str:
        return followup.asked_by.email if followup.asked_by else ""


class FollowUpAskSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=2000)


class TableColumnSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The name filters and sorts use: the playbook item's key, or term:<kind>.")
    title = serializers.CharField()


class TableDocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=DocumentStatus.choices)


class TableRunSerializer(serializers.Serializer):
    analysis = serializers.UUIDField(help_text="The run, readable at /api/v1/analyses/<id>/.")
    status = serializers.ChoiceField(choices=AnalysisStatus.choices)
    progress = serializers.IntegerField()
    stage = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)


class TableCellSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=["finding", "first_pass"])
    text = serializers.CharField(allow_blank=True)
    present = serializers.BooleanField()
    risk = serializers.CharField(allow_blank=True, help_text="Findings only: high, medium, low or none.")
    verified = serializers.IntegerField(help_text="Findings only: quotes found in the document.")
    score = serializers.FloatField(allow_null=True, help_text="First-pass clauses only: the finder's score.")
    review_state = serializers.CharField(allow_blank=True)
    finding = serializers.IntegerField(allow_null=True, help_text="The finding's id (findings only).")
    assigned_to = serializers.CharField(allow_blank=True, help_text="Findings only: the username of the member "
                                                                    "asked to review it.")
    url = serializers.CharField(help_text="The report page at this finding, or at the page of this passage.")


class TableRowSerializer(serializers.Serializer):
    document = TableDocumentSerializer()
    source = serializers.ChoiceField(choices=["model", "first_pass"],
                                     help_text="model: the cells are a ready analysis's findings; first_pass: no model "
                                               "has read the document with this playbook.")
    analysis = serializers.UUIDField(allow_null=True, help_text="The ready analysis the cells come from.")
    run = TableRunSerializer(allow_null=True, help_text="The playbook's latest run when it is not the one shown "
                                                        "(queued, running, failed or cancelled).")
    cells = serializers.DictField(child=TableCellSerializer(allow_null=True),
                                  help_text="One per column key; null where the cell is empty.")


class TablePageSerializer(serializers.Serializer):
    columns = TableColumnSerializer(many=True)
    rows = TableRowSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as `after` (with the same filters) for the next page.")
    total = serializers.IntegerField(help_text="Rows the filters keep, all pages.")


class BatchProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    ready = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    percent = serializers.IntegerField(help_text="Over all analyses of the batch, finished ones counting 100.")
    finished = serializers.BooleanField(help_text="Nothing queued or running.")
    label = serializers.CharField()


class BatchRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    skipped = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                    help_text="Documents not queued: reason -> how many.")

    class Meta:
        model = BatchRun
        fields = ["id", "workspace", "playbook_name", "playbook_title", "requested_by", "created_at", "cancelled_at",
                  "progress", "skipped"]

    def get_requested_by(self, batch: BatchRun) -> str:
        return batch.requested_by.email if batch.requested_by else ""

    @extend_schema_field(BatchProgressSerializer)
    def get_progress(self, batch: BatchRun) -> dict:
        progress = batch_progress(batch)
        return BatchProgressSerializer({**asdict(progress), "finished": progress.finished, "label": progress.label}).data


class BatchStartSerializer(serializers.Serializer):
    playbook = serializers.SlugField(max_length=64, help_text="contract, report, or one of the workspace's own playbooks")
    documents = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=MAX_DOCUMENTS,
                                      help_text="The documents to analyse (ids in this workspace).")
    all = serializers.BooleanField(default=False, help_text="Every document of the workspace instead of `documents`.")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("all") == bool(attrs.get("documents")):
            raise serializers.ValidationError({"documents": ["Give a non-empty `documents` list or `all`: true, not both."]})
        return attrs

"""What the API shows of each object. Read-only shapes; writes go through services with small input
serializers, so the rules live in one place for pages and API."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from webapp.audit.models import AuditEvent
from webapp.documents.models import Document
from webapp.reports.models import Analysis, Anchor, Finding, FollowUp, Report
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

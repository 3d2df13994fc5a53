"""What analysis produced for a document: the report (facts and first pass, one per document, replaced on
re-analysis), the playbook analyses (kept, one per run) with their findings and anchors, and follow-up questions."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Report(models.Model):
    document = models.OneToOneField("documents.Document", on_delete=models.CASCADE, related_name="report")
    # What the first pass took the document to be, "contract" or "report": the playbook an upload is reviewed with
    # unless someone chooses (analysis.playbooks.choice). title follows it (analysis.pipeline.RESULT_TITLES).
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    facts = models.JSONField(default=list)  # [{"label": ..., "value": ...}], measured from the file
    engine = models.CharField(max_length=80, blank=True)
    # What the first pass read without a language model (analysis.first_pass.record.FirstPassRecord.to_json):
    # offsets into the document's text, pages, clause-finder scores. {} for reports made before it existed.
    first_pass = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.title} for {self.document_id}"


class AnalysisStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ANALYSIS_TERMINAL = frozenset({AnalysisStatus.READY, AnalysisStatus.FAILED, AnalysisStatus.CANCELLED})


class Analysis(models.Model):
    """One playbook review of one document by one model. Re-running makes a new row; earlier ones stay."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="analyses")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # Started by the upload pipeline: its progress is also the document's, and the document is ready when it ends.
    automatic = models.BooleanField(default=False)
    # The playbook exactly as it was run (analysis.playbooks.Playbook.as_dict), so an edit later changes nothing here.
    playbook = models.JSONField()
    playbook_name = models.CharField(max_length=80)
    playbook_title = models.CharField(max_length=200)
    playbook_version = models.PositiveIntegerField()
    engine = models.CharField(max_length=20, blank=True)  # "local" or "openai" (any OpenAI-compatible server)
    model_id = models.CharField(max_length=200, blank=True)  # the model's name, never a server path
    test_model = models.BooleanField(default=False)  # a random-weight demo model: the findings mean nothing

    status = models.CharField(max_length=12, choices=AnalysisStatus.choices, default=AnalysisStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=200, default="Waiting for the engine")
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)

    windows = models.PositiveIntegerField(default=0)  # 1 when the whole document was read at once
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    cached_prompt_tokens = models.PositiveBigIntegerField(default=0)
    generated_tokens = models.PositiveBigIntegerField(default=0)
    prefill_seconds = models.FloatField(default=0.0)
    decode_seconds = models.FloatField(default=0.0)
    seconds = models.FloatField(default=0.0)
    repaired = models.BooleanField(default=False)  # the model's first reply needed the repair retry
    cited_pages = models.JSONField(default=list, blank=True)
    missed_by_model = models.JSONField(default=list, blank=True)  # first-pass categories the model called absent
    unanswered = models.JSONField(default=list, blank=True)  # playbook items the model gave no answer for

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(progress__lte=100), name="analysis_progress_is_percent")]

    def __str__(self) -> str:
        return f"{self.playbook_title} by {self.model_id or 'no model'}"

    @property
    def is_terminal(self) -> bool:
        return self.status in ANALYSIS_TERMINAL


class ReviewState(models.TextChoices):
    OPEN = "open", "Open"
    REVIEWED = "reviewed", "Reviewed"
    DISPUTED = "disputed", "Disputed"


class Finding(models.Model):
    """The model's answer to one playbook item, and what the team made of it."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="findings")
    position = models.PositiveIntegerField()
    item = models.CharField(max_length=64)  # the playbook item's key
    category = models.CharField(max_length=200)  # the item's title, as shown
    present = models.BooleanField()
    answer = models.TextField(blank=True)
    risk = models.CharField(max_length=8)  # none, low, medium, high
    risk_note = models.TextField(blank=True)
    review_state = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.OPEN)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # The member asked to review it, from the workspace table (reports.review.finding_assign).
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["position"]


class FindingComment(models.Model):
    """A member's note on a finding; shown in the report and in every export."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class FollowUpStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    ANSWERED = "answered", "Answered"
    FAILED = "failed", "Failed"


class FollowUp(models.Model):
    """A question asked about a document from its report, and the model's answer; kept for the workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="followups")
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    question = models.TextField()
    status = models.CharField(max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.QUEUED)
    answer = models.TextField(blank=True)  # while queued: the answer so far, as the model writes it
    error_message = models.TextField(blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    test_model = models.BooleanField(default=False)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    cached_prompt_tokens = models.PositiveBigIntegerField(default=0)  # the document prefix the engine reused
    seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]


class Anchor(models.Model):
    """One quoted passage of a finding or a follow-up answer. Verified quotes carry the exact span of the document's
    text they were found at and its pages; an unverified one is the model's words only and never shown as verbatim."""

    finding = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.CASCADE, related_name="anchors")
    followup = models.ForeignKey(FollowUp, null=True, blank=True, on_delete=models.CASCADE, related_name="anchors")
    position = models.PositiveIntegerField()
    quote = models.TextField()  # as the model wrote it
    verified = models.BooleanField()
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    pages = models.JSONField(default=list, blank=True)
    exact = models.BooleanField(default=False)  # found character for character (after folding white space)
    score = models.FloatField(default=0.0)  # the fuzzy match's similarity, 1.0 when exact

    class Meta:
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(finding__isnull=False, followup__isnull=True)
                | models.Q(finding__isnull=True, followup__isnull=False),
                name="anchor_belongs_to_one_owner",
            ),
            models.CheckConstraint(
                condition=models.Q(verified=False) | models.Q(start__isnull=False, end__isnull=False, end__gte=models.F("start")),
                name="verified_anchor_has_span",
            ),
        ]


class WorkspacePlaybook(models.Model):
    """A workspace's own playbook: an edited copy of a built-in one, or its own questions. Saving bumps the version,
    and analyses keep the copy they ran with."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="playbooks")
    name = models.SlugField(max_length=64)
    definition = models.JSONField()  # analysis.playbooks.Playbook.as_dict, validated by from_dict on every save
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="one_playbook_name_per_workspace")]


class FirstPassCell(models.Model):
    """One cell of the workspace table for a document no model has reviewed (analysis.first_pass.cells): the best
    passage of a clause category, the first key term of a kind, or the parties. Rewritten whenever the report's
    first pass is, from the same record, so the table filters and sorts in the database instead of opening every
    report's JSON."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="cells")
    column = models.CharField(max_length=120)  # "parties", "clause:<category>", "term:<kind>"
    value = models.TextField()
    score = models.FloatField(null=True, blank=True)  # clauses only: the finder's calibrated probability
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "column"], name="one_first_pass_cell_per_column")]
        indexes = [models.Index(fields=["column", "score"], name="first_pass_cell_column_score")]

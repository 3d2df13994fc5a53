"""Batch runs: one playbook queued over many documents of a workspace at once, followed as one."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class BatchRun(models.Model):
    """The analyses a member queued together; each is an ordinary analysis (the report page shows it as any other),
    so a batch adds only the grouping, the aggregate progress and the actions on all of them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="batch_runs")
    playbook_name = models.SlugField(max_length=64)
    playbook_title = models.CharField(max_length=200)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    analyses = models.ManyToManyField("reports.Analysis", related_name="batch_runs")
    skipped = models.JSONField(default=dict, blank=True)  # reason -> count: documents not queued, and why
    # Documents that become ready later (new uploads) join the batch: its playbook is queued for them too.
    auto_join = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


def export_storage_name(job: "TableExport", filename: str) -> str:
    return f"exports/{job.workspace_id}/{job.id}.{job.fmt}"


class TableExport(models.Model):
    """A large table export written by a worker: the member who asked polls its progress and downloads the file
    when it is ready. Only they can; the file goes with the row (and with the workspace)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="table_exports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    fmt = models.CharField(max_length=8)
    query = models.JSONField(default=dict)  # the table page's query string, as TableQuery.as_params gave it
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_storage_name, max_length=255, blank=True)
    filename = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

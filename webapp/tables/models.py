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

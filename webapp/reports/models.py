"""What analysis produced for a document. One report per document; re-analysis replaces it."""

from __future__ import annotations

from django.db import models


class Report(models.Model):
    document = models.OneToOneField("documents.Document", on_delete=models.CASCADE, related_name="report")
    # "ingestion_facts" until a language-model engine is configured; the page says which it is.
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    facts = models.JSONField(default=list)  # [{"label": ..., "value": ...}], measured from the file
    engine = models.CharField(max_length=80, blank=True)
    # What the first pass read without a language model (analysis.first_pass.pipeline.as_json): offsets into
    # the document's text, pages, clause-finder scores. {} for reports made before it existed.
    first_pass = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.title} for {self.document_id}"

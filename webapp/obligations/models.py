"""A document's dated obligations (rewritten with its first pass) and the members' private calendar feeds."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models


class Obligation(models.Model):
    """One dated obligation (analysis.obligations.model.Obligation): `text` is text[start:end] of the document, the
    passage that states or computes the date; `passages` every passage it rests on; `derivation` how, in words."""

    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="obligations")
    kind = models.CharField(max_length=20)  # analysis.obligations.model.KINDS
    date = models.DateField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField()
    derivation = models.CharField(max_length=300)
    passages = models.JSONField(default=list, blank=True)  # [{start, end, page, text}], the first being text's

    class Meta:
        ordering = ["date", "kind", "start"]
        indexes = [models.Index(fields=["date"], name="obligation_date")]


class CalendarFeed(models.Model):
    """A member's private, read-only ICS feed of one workspace's obligations. The token is in the URL a calendar
    program subscribes to; only its SHA-256 is kept. Revoked by its member, and dead once they leave the workspace."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @staticmethod
    def hash_of(token: str) -> str:
        """What is stored for a token, and looked up when a calendar program fetches the feed."""
        return hashlib.sha256(token.encode()).hexdigest()

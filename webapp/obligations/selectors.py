"""Reads of obligations: a workspace's calendar for a member, and a feed found by its token."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from analysis.obligations.model import KINDS
from webapp.obligations.models import CalendarFeed, Obligation
from webapp.workspaces import permissions


def obligations_for_workspace(*, user, workspace, kind: str = "", document_id: str = "", past: bool | None = False,
                              today: date | None = None) -> QuerySet[Obligation]:
    """Upcoming ones, earliest first; `past=True` those already gone by instead (latest first); `past=None` all of
    them, by date (the feed: a calendar program shows past and future alike)."""
    today = today or timezone.localdate()
    rows = (permissions.visible_to(Obligation.objects.filter(document__workspace=workspace), user=user,
                                   workspace_field="document__workspace")
            .select_related("document"))
    if kind in KINDS:
        rows = rows.filter(kind=kind)
    if document_id:
        rows = rows.filter(document_id=document_id)
    if past is None:
        return rows
    return rows.filter(date__lt=today).order_by("-date", "kind") if past else rows.filter(date__gte=today)


def feed_active(*, user, workspace) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user, workspace=workspace, revoked_at__isnull=True).first()


def feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed with this token, whose member still belongs to its workspace; None otherwise (the caller
    answers 404 either way, so a guesser learns nothing)."""
    if not token or len(token) > 100:
        return None
    feed = (CalendarFeed.objects.select_related("user", "workspace")
            .filter(token_hash=CalendarFeed.hash_of(token), revoked_at__isnull=True).first())
    if feed is None or not feed.user.is_active or permissions.role_of(user=feed.user, workspace=feed.workspace) is None:
        return None
    return feed

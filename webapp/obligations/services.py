"""Writes of obligations: a document's obligations replaced at the reading step, and members' calendar feeds."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from analysis.obligations import document_obligations
from analysis.obligations.model import Obligation as Found
from webapp.documents.ingested import document_as_ingested
from webapp.obligations.feeds import workspace_ics
from webapp.obligations.models import CalendarFeed, Obligation
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action


def obligations_store(*, document, obligations: tuple[Found, ...]) -> int:
    """Replace the document's obligations with those its first pass supports now (inside the reading step's
    transaction). The count stored."""
    Obligation.objects.filter(document=document).delete()
    Obligation.objects.bulk_create([
        Obligation(document=document, kind=o.kind, date=o.date, start=o.passage.start, end=o.passage.end,
                   page=o.passage.page, text=o.passage.text, derivation=o.derivation[:300],
                   passages=[p.to_json() for p in o.passages]) for o in obligations])
    return len(obligations)


def obligations_refresh(*, document) -> int:
    """Derive a ready document's obligations again from its stored text and pages and replace the rows: for
    documents read before obligations were stored, and after the rules change. Reads the first pass again (seconds
    for a long contract), so it runs from a command, not a page."""
    found = document_obligations(document_as_ingested(document))
    with transaction.atomic():
        return obligations_store(document=document, obligations=found)


@dataclass(frozen=True)
class NewFeed:
    feed: CalendarFeed
    token: str  # shown once, in the feed's URL; never stored


@transaction.atomic
def feed_create(*, workspace, user) -> NewFeed:
    """A new private feed of the workspace's obligations for `user` (any member); their earlier one stops working."""
    permissions.require(user=user, workspace=workspace, action=Action.READ)
    CalendarFeed.objects.filter(workspace=workspace, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    return NewFeed(CalendarFeed.objects.create(workspace=workspace, user=user, token_hash=CalendarFeed.hash_of(token)), token)


def feed_read(*, feed: CalendarFeed, base_url: str) -> bytes:
    """The feed's calendar, noting when it was last fetched (the calendar page shows it; a feed never fetched since
    a member left is one to revoke)."""
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
    return workspace_ics(feed=feed, base_url=base_url)


def feed_revoke(*, workspace, user) -> int:
    """Stop the user's feeds of this workspace; the count stopped."""
    permissions.require(user=user, workspace=workspace, action=Action.READ)
    return CalendarFeed.objects.filter(workspace=workspace, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now())

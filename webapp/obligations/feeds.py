"""A member's feed as ICS: every obligation of the workspace (the feed's member may read it), each event linking to
the report page at the passage its date comes from."""

from __future__ import annotations

from django.urls import reverse

from analysis.obligations.feed import FeedEntry, feed_ics
from analysis.obligations.model import Obligation as Found
from analysis.obligations.model import Passage
from webapp.obligations.models import Obligation
from webapp.reports.presenters.document_pane import page_anchor
from webapp.obligations.selectors import obligations_for_workspace


def passage_url(row: Obligation) -> str:
    """The report page at the page of the obligation's passage."""
    return reverse("reports:detail", args=[row.document_id]) + page_anchor(row.page)


def _found(row: Obligation) -> Found:
    passages = tuple(Passage(p["start"], p["end"], p.get("page"), p.get("text", "")) for p in row.passages) or (
        Passage(row.start, row.end, row.page, row.text),)
    return Found(kind=row.kind, date=row.date.isoformat(), passages=passages, derivation=row.derivation)


def workspace_ics(*, feed, base_url: str) -> bytes:
    rows = obligations_for_workspace(user=feed.user, workspace=feed.workspace, past=None)
    entries = [FeedEntry(obligation=_found(row), document_name=row.document.original_name,
                         document_hash=row.document.sha256, url=base_url + passage_url(row)) for row in rows]
    return feed_ics(entries, name=f"Quire: {feed.workspace.name}")

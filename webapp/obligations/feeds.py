"""A member's feed as ICS: every obligation of the workspace (the feed's member may read it), each event linking to
the report page at the passage its date comes from."""

from __future__ import annotations

from django.urls import reverse

from analysis.obligations.feed import FeedEntry, feed_ics
from analysis.obligations.model import Obligation as Found
from analysis.obligations.model import Passage
from webapp.obligations.models import Obligation
from webapp.obligations.selectors import obligations_for_workspace

PAGES_PER_WINDOW = 12  # the report page's document pane shows pages in windows of twelve


def passage_url(row: Obligation) -> str:
    """The report page at the page of the obligation's passage."""
    url = reverse("reports:detail", args=[row.document_id])
    if row.page:
        return f"{url}?pages={1 + (row.page - 1) // PAGES_PER_WINDOW * PAGES_PER_WINDOW}#page-{row.page}"
    return url


def _found(row: Obligation) -> Found:
    passages = tuple(Passage(p["start"], p["end"], p.get("page"), p.get("text", "")) for p in row.passages) or (
        Passage(row.start, row.end, row.page, row.text),)
    return Found(kind=row.kind, date=row.date.isoformat(), passages=passages, derivation=row.derivation)


def workspace_ics(*, feed, base_url: str) -> bytes:
    rows = obligations_for_workspace(user=feed.user, workspace=feed.workspace, past=None)
    entries = [FeedEntry(obligation=_found(row), document_name=row.document.original_name,
                         document_hash=row.document.sha256, url=base_url + passage_url(row)) for row in rows]
    return feed_ics(entries, name=f"Quire: {feed.workspace.name}")

"""Rendered parts of the report page, kept in the cache so that a report read by a whole team is drawn once.

A part is stored under a key that names everything it was drawn from: the rows it shows and the time they last
changed (an analysis's findings and quotes never change once written; comments and review states touch the
analysis's updated_at; a report's first pass and the document's text change only with report.updated_at), the
page's query, and the reader's role flags. So nothing is ever invalidated by hand: a change makes a new key and
the old entry expires (QUIRE_FRAGMENT_CACHE_SECONDS).

What differs between readers of the same part is kept out of the stored HTML: forms are drawn with a placeholder
where the CSRF token goes, and each response gets its reader's own token. A cache that cannot be reached costs a
render, never a page.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Callable, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.middleware.csrf import get_token
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Bumped when a template of a cached part changes shape, so a deploy never serves parts drawn by the old one.
PARTS_VERSION = 3
CSRF_PLACEHOLDER = "quire-csrf-placeholder-3f9a1c"
MAX_QUERY_VALUE_CHARS = 200  # a page's query values go into keys; a longer one cannot be a real filter


def part_key(name: str, *inputs) -> str:
    digest = hashlib.sha256(repr(inputs).encode("utf-8")).hexdigest()[:40]
    return f"report-part:{PARTS_VERSION}:{name}:{digest}"


def query_value(value: str) -> str:
    return (value or "")[:MAX_QUERY_VALUE_CHARS]


def cached_part(key: str, draw: Callable[[], T]) -> T:
    """What is stored under `key` (the HTML of a part, or the HTML with what was counted while drawing it), drawn and
    stored first when absent."""
    try:
        html = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; its outage must not fail the page
        logger.warning("report page cache unreachable; drawing %s", key, exc_info=True)
        return draw()
    if html is None:
        html = draw()
        try:
            cache.set(key, html, timeout=settings.QUIRE_FRAGMENT_CACHE_SECONDS)
        except Exception:  # noqa: BLE001
            logger.warning("report page cache unreachable; not storing %s", key, exc_info=True)
    return html


def with_reader_token(html: str, request) -> SafeString:
    """The stored part with the reader's own CSRF token where its forms need one (the HTML was drawn escaped)."""
    if CSRF_PLACEHOLDER in html:
        html = html.replace(CSRF_PLACEHOLDER, get_token(request))
    return mark_safe(html)  # noqa: S308 - drawn by our templates with autoescape on

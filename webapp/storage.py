"""Deleting stored files after the rows that name them are gone: shared by every deletion path (a document, a
workspace), and free of any app so that each may use it."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def files_delete_on_commit(files: list[tuple]) -> None:
    """(storage, name) pairs, deleted once the transaction commits: the rows are gone for everyone at that moment,
    and a rolled-back deletion keeps its files."""

    def delete() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except OSError:
                logger.exception("Could not delete %s; remove it by hand", name)

    transaction.on_commit(delete)

"""A local path to a document's original, wherever storage keeps it: for ingestion and for drawing page images."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator

from webapp.documents.models import Document


@contextmanager
def stored_file_path(document: Document) -> Iterator[str]:
    """The file itself on disk storage, a temporary copy otherwise."""
    try:
        path = document.file.path
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=f".{document.kind}") as copy:
        with document.file.open("rb") as source:
            shutil.copyfileobj(source, copy, length=1024 * 1024)
        copy.flush()
        yield copy.name

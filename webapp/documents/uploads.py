"""Streaming upload handling: every file goes to a temporary file on disk, hashed on the way.

A file that passes QUIRE_MAX_UPLOAD_BYTES is dropped the moment it does (its temporary file
deleted, the rest of its bytes discarded unread-into-memory) and noted on the request so the view
can tell the user. Nothing here ever holds a whole file in memory.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class HashedUploadedFile(TemporaryUploadedFile):
    sha256: str = ""


def oversized_names(request) -> list[str]:
    """Names of the files in this request that were dropped for passing the size limit."""
    return getattr(request, "_quire_oversized", [])


class StreamingHashUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.QUIRE_MAX_UPLOAD_BYTES
        if request is not None and not hasattr(request, "_quire_oversized"):
            request._quire_oversized = []

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = HashedUploadedFile(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)
        self._hasher = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > self.limit:
            if self.request is not None:
                self.request._quire_oversized.append(self.file_name)
            raise SkipFile()  # the parser closes (and so deletes) our temporary file
        self._hasher.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self._hasher.hexdigest()
        return self.file

"""Seals a PDF password for its one trip through the broker to the worker.

The password is never stored in the database or written to a log; in the task message it travels
encrypted (Fernet, key derived from SECRET_KEY) and expires, so a broker dump does not reveal it.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# Longer than any queue wait; a sealed password older than this is useless.
SEAL_TTL_SECONDS = 24 * 3600


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"quire.pdf-password:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(password: str) -> str:
    return _fernet().encrypt(password.encode()).decode()


def unseal(token: str) -> str | None:
    """The password, or None when the token is forged, corrupted or expired."""
    try:
        return _fernet().decrypt(token.encode(), ttl=SEAL_TTL_SECONDS).decode()
    except (InvalidToken, ValueError):
        return None

"""The one error type of the web app's services: a request refused for a reason the user can read.

Services and selectors raise it (or a subclass naming what was refused); they never build responses. The edges
turn it into one, once: page views show `message` (or answer 404 for `NotFoundError`), the API's exception handler
(webapp/api/errors.py) answers its documented error body with `status` and `code`.
"""

from __future__ import annotations


class AppError(Exception):
    status = 400
    code = "refused"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ConflictError(AppError):
    """Refused because of the state things are in now (not ready yet, already running): worth trying later."""

    status = 409


class NotFoundError(AppError):
    status = 404
    code = "not_found"

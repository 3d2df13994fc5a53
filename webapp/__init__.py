"""Quire's Django project: accounts, workspaces, documents and reports, plus the Celery app."""

from webapp.celery import app as celery_app

__all__ = ("celery_app",)

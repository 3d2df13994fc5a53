"""Builds the engine the settings ask for. Until the engine issues land the only choice is none."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from engine.api import Engine


def engine_from_settings() -> Engine | None:
    choice = settings.QUIRE_ENGINE
    if choice == "none":
        return None
    raise ImproperlyConfigured(f"QUIRE_ENGINE={choice!r} is not available in this version (use 'none').")

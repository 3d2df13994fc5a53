"""Puts the engine's standing on every page, so nobody mistakes a demo model's words for analysis."""

from django.conf import settings


def engine_banner(request) -> dict:
    if settings.QUIRE_ENGINE_DEMO:
        return {
            "engine_banner": "The analysis engine is a tiny random-weight demo model: anything it writes is "
            "meaningless. Set QUIRE_ENGINE_MODEL to a real model (or QUIRE_ENGINE=openai) for real analysis."
        }
    return {}

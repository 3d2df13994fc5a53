"""Puts the engine's standing on every page, so nobody mistakes a demo model's words for analysis."""

from django.conf import settings

from engine.demo_model import DEMO_NOTICE, is_demo_checkpoint

_REAL_MODEL = "Set QUIRE_ENGINE_MODEL to a real model (or QUIRE_ENGINE=openai) for real analysis."


def engine_banner(request) -> dict:
    if settings.QUIRE_ENGINE_DEMO:
        return {
            "engine_banner": "The analysis engine is a tiny random-weight demo model: anything it writes is "
            f"meaningless. {_REAL_MODEL}"
        }
    if settings.QUIRE_ENGINE == "local" and is_demo_checkpoint(settings.QUIRE_ENGINE_MODEL or ""):
        return {"engine_banner": f"The analysis engine is {DEMO_NOTICE}. {_REAL_MODEL}"}
    return {}

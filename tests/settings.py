"""Test settings: the real settings module, pointed at PostgreSQL and Redis on 127.0.0.1.

Values go through the environment (not overrides here) because integration tests start Celery
worker processes that must read exactly the same configuration.
"""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/quire")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("QUIRE_CACHE_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("QUIRE_HTTPS", "false")
os.environ.setdefault("QUIRE_MANIFEST_STATIC", "false")
os.environ.setdefault("QUIRE_VAR_DIR", tempfile.mkdtemp(prefix="quire-test-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from webapp.settings import *  # noqa: E402,F403

# Fast hashing: tests create many users; nothing here protects real passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# django-allauth counts requests per address in the cache, which outlives each test (Redis): its limits would couple
# tests that log in from 127.0.0.1. The lockout that matters, django-axes', counts in the database and is tested.
ACCOUNT_RATE_LIMITS = False
# Serve static files straight from static/ (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405
# pytest-django's live server insists on a MEDIA_URL to mount; the app itself never serves media.
MEDIA_URL = "/__live_server_media_unused__/"

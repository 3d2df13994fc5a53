"""The production settings pass Django's deployment checklist; the defaults are the safe ones."""

import os
import secrets
import subprocess
import sys

from tests.conftest import REPO


def _production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUIRE_", "DEBUG", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        QUIRE_VAR_DIR=os.environ["QUIRE_VAR_DIR"],
        ALLOWED_HOSTS="quire.example.com",
        **extra,
    )
    return env


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=_production_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_and_cookies_secure_unless_asked():
    code = "from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO, env=_production_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.split() == ["False", "True", "True"], result.stderr


def test_empty_variables_mean_the_default():
    code = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.TIME_ZONE, s.MEDIA_ROOT.name)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO, env=_production_env(EMAIL_BACKEND="", TIME_ZONE="", QUIRE_MEDIA_ROOT=""),
        capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.split() == ["django.core.mail.backends.console.EmailBackend", "UTC", "media"], result.stderr


def test_the_report_page_cache_is_shared_redis_with_a_redis_broker_and_process_memory_without():
    code = "from django.conf import settings as s; print(s.CACHES['default']['BACKEND'].rsplit('.', 1)[-1])"
    backends = []
    for broker in ("redis://127.0.0.1:6379/3", "filesystem://"):
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=REPO, env=_production_env(CELERY_BROKER_URL=broker), capture_output=True, text=True, timeout=60,
        )
        backends.append(result.stdout.strip() or result.stderr)
    assert backends == ["RedisCache", "LocMemCache"]


def test_single_sign_on_comes_from_the_environment_and_sso_only_needs_an_issuer():
    code = ("from django.conf import settings as s; [app] = s.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS'];"
            "print(app['provider_id'], app['name'], app['client_id'], app['settings']['server_url'], s.QUIRE_SSO_ONLY,"
            " s.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action'][-1])")
    sso = dict(QUIRE_OIDC_ISSUER="https://id.example.com/realms/team/", QUIRE_OIDC_CLIENT_ID="quire",
               QUIRE_OIDC_CLIENT_SECRET="s3cret", QUIRE_OIDC_NAME="Team-ID", QUIRE_SSO_ONLY="true")
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"],
                            cwd=REPO, env=_production_env(**sso), capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["sso", "Team-ID", "quire", "https://id.example.com/realms/team", "True",
                                     "https://id.example.com"], result.stderr
    alone = subprocess.run([sys.executable, "-c", "import django; django.setup()"],
                           cwd=REPO, env=_production_env(QUIRE_SSO_ONLY="true"), capture_output=True, text=True,
                           timeout=60)
    assert alone.returncode != 0 and "QUIRE_SSO_ONLY=true needs QUIRE_OIDC_ISSUER" in alone.stderr

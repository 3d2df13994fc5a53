"""Quire's settings: read the environment once, here, with defaults that make `make run` work.

Defaults are the safe ones (DEBUG off, HTTPS-only cookies); the embedded runner and the tests say
explicitly where they relax them. The app reads no other environment (the embedded launcher only
chooses values for the processes it starts).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    """A set-but-empty variable counts as unset, so `X=` in an .env file means "the default"."""
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name, "")
    return default if not value else value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env_str(name, "")
    return default if not value else int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_json_object(name: str) -> dict:
    """A JSON object, or {} when unset; anything else stops start-up with the variable's name."""
    value = env_str(name, "")
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, like {{\"repeat_penalty\": 1.0}}.")
    return parsed


VAR_DIR = Path(env_str("QUIRE_VAR_DIR", str(BASE_DIR / "var")))


def _secret_key() -> str:
    """An explicit SECRET_KEY wins; otherwise one is generated once and kept under var/.

    A generated key survives restarts (sessions and invite links stay valid) without anybody
    having to invent one, and it is never a well-known default.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Behind TLS (the default assumption for a server) cookies are HTTPS-only and HSTS is on.
# The embedded runner on localhost sets QUIRE_HTTPS=false.
HTTPS = env_bool("QUIRE_HTTPS", True)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("QUIRE_SSL_REDIRECT", True)
# Probes talk plain HTTP to the container; a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("QUIRE_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("QUIRE_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "webapp.accounts",
    "webapp.workspaces",
    "webapp.documents",
    "webapp.reports",
    "webapp.pipeline",
    "webapp.tables",
    "webapp.obligations",
    "webapp.audit",
    "webapp.api",
    "webapp.backups",
    "rest_framework",
    "drf_spectacular",
    "axes",
    # Accounts (webapp/accounts/): django-allauth's local accounts, OpenID Connect sign-in and TOTP.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
]

MIDDLEWARE = [
    "webapp.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "webapp.accounts.middleware.SsoOnlyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # After messages (it may leave one) and before any view or CSRF check reads an upload's files.
    "webapp.documents.upload_limits.UploadFileCountMiddleware",
    "webapp.audit.context.AuditOriginMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.reports.context_processors.engine_banner",
                "webapp.accounts.context_processors.sign_in",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Embedded default: SQLite under var/. A team server sets DATABASE_URL=postgres://...
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'quire.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and two workers write to one file: WAL lets readers go on while one writes,
    # IMMEDIATE takes the write lock up front instead of failing half-way through a transaction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }


def _sqlite_file_private(name: str) -> None:
    """The database file made 0600 before Django first connects (sqlite3 would make it 0644 under the usual umask),
    like the secret key; SQLite gives its -wal, -shm and -journal files the database file's mode. A file an earlier
    release left readable by others is closed too, where this process may change it."""
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:  # there already, or not ours to create: SQLite says so itself when it connects
        pass
    for file in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        try:
            mode = os.stat(file).st_mode & 0o777
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
        except OSError:
            pass


if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _sqlite_file_private(str(DATABASES["default"]["NAME"]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username/address before any password is checked. Django's own backend
# stays (sessions made before django-allauth name it); allauth's adds log-in by email address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "workspaces:list"
LOGOUT_REDIRECT_URL = "account_login"

# --- Accounts: django-allauth (webapp/accounts/) --------------------------------------------
# Log in with a username or an email address; one account per address (invitations are matched by it), verified
# by an emailed link before the account can log in at all. Sign-up and password reset answer alike whether or not an
# address has an account: allauth mails the address instead ("you already have an account", "no account here").
ACCOUNT_ADAPTER = "webapp.accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"login": "webapp.accounts.forms.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
# Sign-up asks for an address and a password only: a username chosen on the form would have to be refused when taken,
# which tells a stranger that account exists. allauth makes one from the address ("nina", "nina2"), shown in the header.
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a mail scanner following the link must not confirm it
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CHANGE_EMAIL = True  # one address per account: a new one replaces it once verified
ACCOUNT_SESSION_REMEMBER = True  # as before: the session lasts SESSION_COOKIE_AGE, no "remember me" box
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Quire] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if HTTPS else "http"
# django-axes alone counts failed log-ins (webapp/accounts/lockout.py); allauth's own counter would answer differently.
ACCOUNT_RATE_LIMITS = {"login_failed": False}

# OpenID Connect single sign-on, one provider per deployment, configured here (no database row): only when an issuer
# is set. Users are matched by a VERIFIED email address (webapp/accounts/adapters.py refuses the rest); the redirect
# URI to register with the provider is https://HOST/accounts/oidc/sso/login/callback/.
QUIRE_OIDC_ISSUER = env_str("QUIRE_OIDC_ISSUER", "").rstrip("/")
QUIRE_OIDC_CLIENT_ID = env_str("QUIRE_OIDC_CLIENT_ID", "")
QUIRE_OIDC_CLIENT_SECRET = env_str("QUIRE_OIDC_CLIENT_SECRET", "")
QUIRE_OIDC_NAME = env_str("QUIRE_OIDC_NAME", "Single sign-on")
# SSO only: no local sign-up, password log-in, reset or change (webapp/accounts/middleware.py); API tokens still work.
QUIRE_SSO_ONLY = env_bool("QUIRE_SSO_ONLY", False)
if QUIRE_OIDC_ISSUER and not QUIRE_OIDC_ISSUER.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"QUIRE_OIDC_ISSUER must be the provider's URL, like https://id.example.com: "
                               f"{QUIRE_OIDC_ISSUER!r}")
if QUIRE_OIDC_ISSUER and not QUIRE_OIDC_CLIENT_ID:
    raise ImproperlyConfigured("QUIRE_OIDC_ISSUER is set but QUIRE_OIDC_CLIENT_ID is not.")
if QUIRE_SSO_ONLY and not QUIRE_OIDC_ISSUER:
    raise ImproperlyConfigured("QUIRE_SSO_ONLY=true needs QUIRE_OIDC_ISSUER: nobody could log in.")
OIDC_PROVIDER_ID = "sso"  # in the callback URL: changing it breaks every registration with a provider


def oidc_providers(*, issuer: str, client_id: str, secret: str, name: str) -> dict:
    """SOCIALACCOUNT_PROVIDERS for one OpenID Connect provider, or none without an issuer."""
    apps = [{"provider_id": OIDC_PROVIDER_ID, "name": name, "client_id": client_id, "secret": secret,
             "settings": {"server_url": issuer, "fetch_userinfo": True}}] if issuer else []
    return {"openid_connect": {"APPS": apps, "OAUTH_PKCE_ENABLED": True, "SCOPE": ["openid", "profile", "email"]}}


def oidc_form_action(issuer: str) -> list[str]:
    """The provider's origin for the policy's form-action: the sign-in button's post is redirected there."""
    parts = urlsplit(issuer)
    return [f"{parts.scheme}://{parts.netloc}"] if issuer else []


SOCIALACCOUNT_PROVIDERS = oidc_providers(issuer=QUIRE_OIDC_ISSUER, client_id=QUIRE_OIDC_CLIENT_ID,
                                         secret=QUIRE_OIDC_CLIENT_SECRET, name=QUIRE_OIDC_NAME)
SOCIALACCOUNT_ADAPTER = "webapp.accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True  # a verified address at the provider signs in to the account that has it
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = False  # the sign-in button posts (with its CSRF token); a link cannot start it
SOCIALACCOUNT_STORE_TOKENS = False  # Quire never calls the provider's APIs

# Optional TOTP two-factor for local accounts (allauth.mfa), with one-time recovery codes; one period of clock drift.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Quire"
MFA_TOTP_TOLERANCE = 1

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Files ------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("QUIRE_STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env_str("QUIRE_MEDIA_ROOT", str(VAR_DIR / "media")))
# Uploaded originals are never served from MEDIA_URL: every file goes through a view that asks
# the permissions module first.
MEDIA_URL = None

STORAGE_BACKEND = env_str("QUIRE_STORAGE", "local")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("QUIRE_S3_BUCKET", "quire"),
            "endpoint_url": os.environ.get("QUIRE_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("QUIRE_S3_REGION") or None,
            "access_key": os.environ.get("QUIRE_S3_ACCESS_KEY") or None,
            "secret_key": os.environ.get("QUIRE_S3_SECRET_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("QUIRE_MANIFEST_STATIC", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# Uploads: one streaming handler that writes to a temporary file, hashes as it goes and stops a
# file the moment it passes the limit. Nothing is ever read whole into memory.
QUIRE_MAX_UPLOAD_BYTES = env_int("QUIRE_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["webapp.documents.uploads.StreamingHashUploadHandler"]
FILE_UPLOAD_TEMP_DIR = os.environ.get("QUIRE_UPLOAD_TEMP_DIR") or None
FILE_UPLOAD_PERMISSIONS = 0o640
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("QUIRE_MAX_FILES_PER_UPLOAD", 50)

# Per user, stored documents per hour (page and API alike); duplicates and rejections do not count.
QUIRE_UPLOADS_PER_HOUR = env_int("QUIRE_UPLOADS_PER_HOUR", 300)

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "quire@localhost")
QUIRE_INVITE_DAYS = env_int("QUIRE_INVITE_DAYS", 7)

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded fallback when no Redis is on the machine: kombu's file transport, a real
    # broker shared by the web process and the workers through a folder under var/.
    _broker_dir = Path(env_str("QUIRE_BROKER_DIR", str(VAR_DIR / "broker")))
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task, or Redis re-delivers a task that is still running.
        "visibility_timeout": env_int("QUIRE_VISIBILITY_TIMEOUT", 6 * 3600),
        # A worker looks for such tasks every 10 s but scans only on every Nth look (kombu's default 10: a dead
        # worker's task waits up to 100 s past the timeout); the fault tests, with a 5-second timeout, scan on each.
        "unacked_restore_throttle": env_int("QUIRE_UNACKED_RESTORE_THROTTLE", 10),
    }
# Task messages are JSON only: a pickle message from anyone who can reach the broker would run code.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"webapp.reports.tasks.*": {"queue": "engine"}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing (an upload's first task, and the next step of a chain from inside a worker) rides out a
# broker restart of up to about a minute instead of failing the document after 0.6 s (Celery's default
# of 3 quick retries): tests/faults restarts Redis in the middle of a batch.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 30, "interval_start": 0, "interval_step": 0.5, "interval_max": 2}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = False
# Time limits per stage (seconds): soft raises inside the task so it can record a readable
# failure; hard kills the child process.
QUIRE_INGEST_SOFT_TIME_LIMIT = env_int("QUIRE_INGEST_SOFT_TIME_LIMIT", 30 * 60)
QUIRE_INGEST_TIME_LIMIT = env_int("QUIRE_INGEST_TIME_LIMIT", 32 * 60)
QUIRE_ANALYSE_SOFT_TIME_LIMIT = env_int("QUIRE_ANALYSE_SOFT_TIME_LIMIT", 4 * 3600)
QUIRE_ANALYSE_TIME_LIMIT = env_int("QUIRE_ANALYSE_TIME_LIMIT", 4 * 3600 + 300)
QUIRE_TASK_MAX_RETRIES = env_int("QUIRE_TASK_MAX_RETRIES", 5)
# Celery beat: how often to look for documents whose worker vanished (see documents_recover_stuck).
QUIRE_RECOVERY_INTERVAL_S = env_int("QUIRE_RECOVERY_INTERVAL_S", 300)
CELERY_BEAT_SCHEDULE = {
    "recover-stuck-documents": {
        "task": "webapp.documents.tasks.documents_recover_stuck_task",
        "schedule": QUIRE_RECOVERY_INTERVAL_S,
        "options": {"queue": "default", "expires": QUIRE_RECOVERY_INTERVAL_S},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Cache: rendered parts of report pages (webapp/reports/page_cache.py) ---------------------
# Redis shares them between every web process and host; without Redis (the file broker), each process keeps its own.
QUIRE_CACHE_URL = env_str("QUIRE_CACHE_URL", REDIS_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "locmem://")
QUIRE_FRAGMENT_CACHE_SECONDS = env_int("QUIRE_FRAGMENT_CACHE_SECONDS", 3600)
if QUIRE_CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": QUIRE_CACHE_URL,
                          "KEY_PREFIX": "quire", "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "quire-parts",
                          "OPTIONS": {"MAX_ENTRIES": 2000}}}

# --- Ingestion --------------------------------------------------------------------------------
# Each file is read in a child process bounded by these (see analysis/ingest/isolated.py).
QUIRE_INGEST_MAX_PAGES = env_int("QUIRE_INGEST_MAX_PAGES", 5000)
QUIRE_INGEST_MAX_UNCOMPRESSED_BYTES = env_int("QUIRE_INGEST_MAX_UNCOMPRESSED_BYTES", 512 * 1024 * 1024)
QUIRE_INGEST_MEMORY_BYTES = env_int("QUIRE_INGEST_MEMORY_BYTES", 4 * 1024 * 1024 * 1024)
# OCR of image-only pages with Tesseract when it is installed; off makes such pages "no text layer".
QUIRE_OCR = env_bool("QUIRE_OCR", True)
QUIRE_OCR_DPI = env_int("QUIRE_OCR_DPI", 200)

# --- Engine -----------------------------------------------------------------------------------
# "none": no language model (ingestion facts only); "local": the in-process engine in the engine
# worker; "openai": any OpenAI-compatible server (`engine serve`, vLLM, SGLang, DeepSeek's API).
QUIRE_ENGINE = env_str("QUIRE_ENGINE", "none")
QUIRE_ENGINE_MODEL = env_str("QUIRE_ENGINE_MODEL", "")  # local: a directory or hub id; openai: model name
QUIRE_ENGINE_DEVICE = env_str("QUIRE_ENGINE_DEVICE", "auto")
QUIRE_ENGINE_MEMORY_BUDGET_BYTES = env_int("QUIRE_ENGINE_MEMORY_BUDGET_BYTES", 0) or None  # KV cache budget
# DeepSeek-V4 only: where document caches are saved so follow-up questions skip the document's prefill.
QUIRE_ENGINE_PREFIX_CACHE_DIR = env_str("QUIRE_ENGINE_PREFIX_CACHE_DIR", str(VAR_DIR / "engine-prefix-cache"))
QUIRE_ENGINE_MAX_BATCH_TOKENS = env_int("QUIRE_ENGINE_MAX_BATCH_TOKENS", 1024)  # prefill chunk (bench/RESULTS.md)
QUIRE_ENGINE_BASE_URL = env_str("QUIRE_ENGINE_BASE_URL", "http://127.0.0.1:8001/v1")
QUIRE_ENGINE_API_KEY = env_str("QUIRE_ENGINE_API_KEY", "")
QUIRE_ENGINE_TIMEOUT_S = env_int("QUIRE_ENGINE_TIMEOUT_S", 600)
QUIRE_ENGINE_MAX_CONTEXT = env_int("QUIRE_ENGINE_MAX_CONTEXT", 0) or None  # when the server does not say
# A server's own request parameters, merged into each generation request (docs/engines.md), e.g. {"repeat_penalty": 1.0}.
QUIRE_ENGINE_EXTRA_BODY = env_json_object("QUIRE_ENGINE_EXTRA_BODY")
# Set by `make run` when it falls back to the tiny random-weight model: every page then says that
# the engine's output is meaningless.
QUIRE_ENGINE_DEMO = env_bool("QUIRE_ENGINE_DEMO", False)
# The longest reply a playbook review may write (tokens); 41 CUAD items with quotes fit in the default.
QUIRE_ANALYSIS_MAX_TOKENS = env_int("QUIRE_ANALYSIS_MAX_TOKENS", 8192)

# --- Security: login lockout, content security policy ---------------------------------------
# django-axes: after AXES_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
# refused for the cool-off period; after QUIRE_LOGIN_ADDRESS_FAILURE_LIMIT from one address, whatever the
# usernames, every log-in from that address is (webapp/accounts/lockout.py). The answer is 429 with Retry-After.
AXES_FAILURE_LIMIT = env_int("QUIRE_LOGIN_FAILURE_LIMIT", 5)
QUIRE_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("QUIRE_LOGIN_ADDRESS_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = env_int("QUIRE_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], ["ip_address"]]
AXES_HANDLER = "webapp.accounts.lockout.AddressLimitHandler"
AXES_LOCKOUT_CALLABLE = "webapp.accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True  # that username at that address only (the handler keeps the address's count)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "login"  # django-allauth's log-in form field: a username or an email address
# What was typed, resolved to its account's username, so "Bea", "bea" and "bea@example.com" count as one username.
AXES_USERNAME_CALLABLE = "webapp.accounts.lockout.lockout_username"
AXES_VERBOSE = False

# django-csp: scripts and styles only from our own static files, never inline; nothing may frame us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        # The single sign-on button posts here and is redirected to the provider: Chromium checks redirects too.
        "form-action": ["'self'", *oidc_form_action(QUIRE_OIDC_ISSUER)],
        "frame-ancestors": ["'none'"],
    }
}

def env_networks(name: str, default: str) -> list[str]:
    """Comma-separated addresses or CIDR networks; a malformed one stops start-up with the variable's name."""
    items = env_list(name, default)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an address or a network, like 10.0.0.0/8.") from None
    return items


# Prometheus at /metrics counts every workspace's documents, so it is never open: with a token set, scrapers send
# it as a bearer token (from any address); without one, only a direct connection (no proxy's headers) from an
# address in QUIRE_METRICS_ALLOW is answered, REMOTE_ADDR alone deciding.
QUIRE_METRICS_TOKEN = env_str("QUIRE_METRICS_TOKEN", "")
QUIRE_METRICS_ALLOW = env_networks("QUIRE_METRICS_ALLOW", "127.0.0.1/32,::1/128")

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webapp.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browser; enforces CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "webapp.api.pagination.Pages",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "webapp.api.parsers.BoundedJSONParser",  # DRF's, refusing nesting past 64 levels with a 400
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "webapp.api.errors.error_response",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quire API",
    "DESCRIPTION": "Workspaces, documents and their reports. Authenticate with `Authorization: Bearer <token>` "
    "(tokens are made on the account's API tokens page) or with the browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Three models have a "status" with their own choices; name each set so the schema's names are stable.
    "ENUM_NAME_OVERRIDES": {
        "DocumentStatusEnum": "webapp.documents.models.DocumentStatus",
        "AnalysisStatusEnum": "webapp.reports.models.AnalysisStatus",
        "FollowUpStatusEnum": "webapp.reports.models.FollowUpStatus",
    },
}

# json: one object per line with request_id / task_id (servers, log shippers); plain: for a terminal.
QUIRE_LOG_FORMAT = env_str("QUIRE_LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # redact: no invitation, password-reset or feed token reaches a log line (the URLs Django logs on a 4xx or 5xx).
    "filters": {"context": {"()": "webapp.logs.ContextFilter"}, "redact": {"()": "webapp.logs.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "webapp.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if QUIRE_LOG_FORMAT == "plain" else "json",
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # pypdf narrates its repairs of damaged files object by object; the outcome is what counts.
        "pypdf": {"level": "ERROR"},
    },
}

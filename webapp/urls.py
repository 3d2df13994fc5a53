"""Top-level routes. Each app owns its own urls module."""

from django.contrib import admin
from django.urls import include, path

from webapp import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", include("webapp.workspaces.urls")),
    path("", include("webapp.documents.urls")),
    path("", include("webapp.reports.urls")),
    path("", include("webapp.tables.urls")),
    path("", include("webapp.obligations.urls")),
    path("", include("webapp.audit.urls")),
    path("api/v1/", include("webapp.api.urls")),
    path("accounts/", include("webapp.accounts.urls")),
    # django-allauth: log in/out, sign-up with email verification, password change and reset, email change (account_*);
    # two-factor (mfa_*); single sign-on (socialaccount_*, and the one OpenID Connect provider's openid_connect_*).
    # Its allauth.urls is not included whole: that adds unnamed redirects for URLs Quire never had.
    path("accounts/", include("allauth.account.urls")),
    path("accounts/2fa/", include("allauth.mfa.urls")),
    path("accounts/3rdparty/", include("allauth.socialaccount.urls")),
    path("accounts/", include("allauth.socialaccount.providers.openid_connect.urls")),
    path("admin/", admin.site.urls),
]

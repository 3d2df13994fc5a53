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
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

"""Log-in, log-out and failed log-in events from Django's auth signals (browser and API alike)."""

from __future__ import annotations

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.dispatch import receiver

from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    audit_record(action=AuditAction.LOGIN, actor=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action=AuditAction.LOGOUT, actor=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the name that was typed; Django has already replaced the password with asterisks.
    typed = str(credentials.get("username") or credentials.get("email") or "")
    audit_record(action=AuditAction.LOGIN_FAILED, actor_label=typed[:254])

"""Creating, finding and revoking API tokens (services: the settings page and tests call these)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webapp.api.models import ApiToken
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record

TOKEN_PREFIX = "qk_"
_LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per token per minute


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    raw: str  # shown to the user once, never stored


@transaction.atomic
def token_create(*, user, name: str) -> NewToken:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the token a name, so you know later what uses it.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:80], prefix=raw[:10], key_hash=_hash(raw))
    audit_record(action=AuditAction.TOKEN_CREATE, actor=user, target=token, target_label=token.name)
    return NewToken(token=token, raw=raw)


@transaction.atomic
def token_revoke(*, user, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(user=user, pk=token_id).first()
    if token is None:
        raise ValidationError("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action=AuditAction.TOKEN_REVOKE, actor=user, target=token, target_label=token.name)
    return token


def token_user(raw: str):
    """The active user a raw token belongs to, or None. Constant work whatever the token looks like."""
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(raw), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def token_list(*, user):
    return ApiToken.objects.filter(user=user)

"""Writing and reading the audit trail. Every other app records through `audit_record` only."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from django.db.models import QuerySet

from webapp.audit.context import current_origin
from webapp.audit.models import AuditAction, AuditEvent


def _label_of_user(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return (user.email or user.get_username())[:254]


def audit_record(*, action: AuditAction, actor=None, actor_label: str = "", workspace=None, target=None,
                 target_type: str = "", target_id: str = "", target_label: str = "", **detail) -> AuditEvent:
    """Append one event. `target` is any model instance (its type, primary key and str() are copied)."""
    origin = current_origin()
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(target.pk)
        target_label = target_label or str(getattr(target, "original_name", None) or target)
    return AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=(actor_label or _label_of_user(actor))[:254],
        workspace=workspace,
        workspace_label=(workspace.name if workspace is not None else "")[:120],
        object_type=target_type[:40],
        object_id=target_id[:64],
        object_label=target_label[:255],
        ip=origin.ip,
        user_agent=origin.user_agent,
        via=origin.via,
        detail=detail,
    )


def audit_events_for_workspace(*, workspace) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(workspace=workspace)


def audit_events_for_account(*, user, limit: int = 20) -> QuerySet[AuditEvent]:
    """The user's own account events (log-ins, tokens), shown to them beside their tokens."""
    return AuditEvent.objects.filter(actor=user, workspace__isnull=True, workspace_label="")[:limit]


CSV_COLUMNS = ("at", "action", "actor", "object_type", "object_id", "object", "ip", "via", "user_agent", "detail")


def _cell(value) -> str:
    """A spreadsheet must not run what a user typed: cells that would start a formula are quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_csv_rows(events: Iterable[AuditEvent]) -> Iterable[str]:
    """CSV lines, header first, generated lazily so a long trail streams."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return value

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for event in events:
        writer.writerow([_cell(v) for v in (
            event.at.isoformat(), event.action, event.actor_label, event.object_type, event.object_id,
            event.object_label, event.ip, event.via, event.user_agent, event.detail or "",
        )])
        yield flush()


def audit_csv_export(*, workspace, user) -> Iterable[str]:
    """The workspace's trail as CSV rows, streamed; the export is itself in the trail. The caller has checked that
    `user` may see the trail (Action.VIEW_AUDIT): the audit app sits below the workspaces app and cannot ask it."""
    events = audit_events_for_workspace(workspace=workspace).iterator()
    audit_record(action=AuditAction.EXPORT, actor=user, workspace=workspace, target=workspace,
                 format="csv", what="audit log")
    return audit_csv_rows(events)

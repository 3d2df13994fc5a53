"""The audit trail: who did what to which object, when and from where. Rows are only ever added.

Labels (the actor's email, the object's name) are copied at the time of the event, so the trail still
reads after the user, workspace or document is gone; the foreign keys are then set to NULL, never
cascaded.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGOUT = "logout", "Logged out"
    WORKSPACE_CREATE = "workspace_create", "Created workspace"
    WORKSPACE_DELETE = "workspace_delete", "Deleted workspace"
    MEMBER_INVITE = "member_invite", "Invited member"
    MEMBER_JOIN = "member_join", "Joined workspace"
    MEMBER_ROLE = "member_role", "Changed role"
    MEMBER_REMOVE = "member_remove", "Removed member"
    MEMBER_LEAVE = "member_leave", "Left workspace"
    DOCUMENT_UPLOAD = "document_upload", "Uploaded document"
    DOCUMENT_DOWNLOAD = "document_download", "Downloaded original"
    DOCUMENT_DELETE = "document_delete", "Deleted document"
    REPORT_VIEW = "report_view", "Viewed report"
    EXPORT = "export", "Exported"
    PLAYBOOK_CHANGE = "playbook_change", "Changed playbook"
    ANALYSIS_START = "analysis_start", "Started analysis"
    ANALYSIS_CANCEL = "analysis_cancel", "Cancelled analysis"
    FOLLOWUP_ASK = "followup_ask", "Asked follow-up"
    TOKEN_CREATE = "token_create", "Created API token"
    TOKEN_REVOKE = "token_revoke", "Revoked API token"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=254, blank=True)  # email or username as it was, or what was typed
    workspace = models.ForeignKey("workspaces.Workspace", null=True, on_delete=models.SET_NULL, related_name="+")
    workspace_label = models.CharField(max_length=120, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    via = models.CharField(max_length=16, blank=True)  # "web", "api" or "" (worker, shell)
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["workspace", "-at"], name="audit_workspace_at")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_label}"

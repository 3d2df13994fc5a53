"""Members' comments on findings and the review state of each finding (open, reviewed, disputed)."""

from __future__ import annotations

from django.utils import timezone

from webapp.errors import AppError
from webapp.reports.models import Analysis, Finding, FindingComment, ReviewState
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action

MAX_COMMENT_CHARS = 4000


class CommentRefusedError(AppError):
    code = "comment_refused"


def finding_comment(*, finding: Finding, user, text: str) -> FindingComment:
    """Any member may comment (viewers review too); the text is stored as typed and always rendered escaped."""
    permissions.require(user=user, workspace=finding.analysis.document.workspace, action=Action.READ)
    text = (text or "").strip()
    if not text:
        raise CommentRefusedError("Write a comment first.")
    if len(text) > MAX_COMMENT_CHARS:
        raise CommentRefusedError(f"A comment is at most {MAX_COMMENT_CHARS} characters.")
    comment = FindingComment.objects.create(finding=finding, author=user, text=text)
    _analysis_changed(finding)
    return comment


def finding_set_review_state(*, finding: Finding, user, state: str) -> None:
    permissions.require(user=user, workspace=finding.analysis.document.workspace, action=Action.ANALYSE)
    if state not in ReviewState.values:
        raise CommentRefusedError(f"A finding is {', '.join(ReviewState.values)}; not {state[:20]!r}.")
    Finding.objects.filter(pk=finding.pk).update(review_state=state, reviewed_by=user, reviewed_at=timezone.now())
    _analysis_changed(finding)


def finding_assign(*, finding: Finding, user, assignee) -> None:
    """Ask a member of the finding's workspace to review it (None: nobody). Editors and owners assign."""
    workspace = finding.analysis.document.workspace
    permissions.require(user=user, workspace=workspace, action=Action.ANALYSE)
    if assignee is not None and permissions.role_of(user=assignee, workspace=workspace) is None:
        raise CommentRefusedError("Only a member of this workspace can be asked to review it.")
    Finding.objects.filter(pk=finding.pk).update(assigned_to=assignee)
    _analysis_changed(finding)


def _analysis_changed(finding: Finding) -> None:
    """The report page keeps drawn findings under the analysis's updated_at (page_cache.py): a new one redraws."""
    Analysis.objects.filter(pk=finding.analysis_id).update(updated_at=timezone.now())

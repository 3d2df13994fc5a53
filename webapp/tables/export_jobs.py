"""Large table exports, written by a worker: the member asks, watches the progress, and downloads the file when it is
ready. The same export as the direct download (tables/exports.py), with the page's filters and the member's rights
checked again when the worker runs and when the file is fetched."""

from __future__ import annotations

import logging

from celery import current_app
from django.core.files.base import ContentFile
from django.db import transaction

from webapp.errors import NotFoundError
from webapp.reports.playbooks import playbook_choices, playbook_for_workspace
from webapp.tables.columns import table_columns
from webapp.tables.exports import FORMATS, table_export
from webapp.tables.models import ExportStatus, TableExport
from webapp.tables.query import parse_table_query
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action

logger = logging.getLogger(__name__)

EXPORT_TASK = "webapp.tables.tasks.table_export_task"  # enqueued by name: services import no task module
DIRECT_EXPORT_ROWS = 300  # up to this many rows the page offers the file at once; beyond, a worker writes it


def export_job_start(*, workspace, user, fmt: str, params: dict, base_url: str) -> TableExport:
    permissions.require(user=user, workspace=workspace, action=Action.EXPORT)
    if fmt not in FORMATS:
        raise NotFoundError(f"Unknown export format {fmt!r}; choose xlsx or csv.")
    job = TableExport.objects.create(workspace=workspace, user=user, fmt=fmt,
                                     query={"params": params, "base_url": base_url})
    transaction.on_commit(lambda: current_app.send_task(EXPORT_TASK, args=(str(job.id),)))
    return job


def export_job_run(*, job_id) -> None:
    """The worker's part. Safe to deliver twice: a finished job is left alone."""
    job = TableExport.objects.select_related("workspace", "user").filter(pk=job_id).first()
    if job is None or job.status in (ExportStatus.READY, ExportStatus.FAILED):
        return
    TableExport.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, progress=0)
    params, workspace = job.query.get("params", {}), job.workspace
    choices = {c.name for c in playbook_choices(workspace=workspace)}
    name = params.get("playbook") if params.get("playbook") in choices else "contract"
    columns = table_columns(playbook_for_workspace(workspace=workspace, name=name))
    query = parse_table_query(params, columns=columns, playbooks=choices)

    def progress(fraction: float) -> None:
        TableExport.objects.filter(pk=job.pk).update(progress=min(99, int(99 * fraction)))

    try:
        exported = table_export(user=job.user, workspace=workspace, columns=columns, query=query, fmt=job.fmt,
                                base_url=job.query.get("base_url", ""), progress=progress)
    except Exception as error:  # noqa: BLE001 - the member reads why; the worker goes on
        logger.exception("table export %s failed", job.pk)
        TableExport.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED,
                                                     error_message=f"The export failed ({type(error).__name__}).")
        return
    job.file.save("export", ContentFile(exported.content), save=False)
    TableExport.objects.filter(pk=job.pk).update(status=ExportStatus.READY, progress=100, rows=exported.rows,
                                                 file=job.file.name, filename=exported.filename)


def export_job_for_user(*, user, job_id) -> TableExport:
    """The member's own job, while they may still export from its workspace; NotFoundError otherwise."""
    job = TableExport.objects.select_related("workspace").filter(pk=job_id, user=user).first()
    if job is None or not permissions.role_allows(permissions.role_of(user=user, workspace=job.workspace), Action.EXPORT):
        raise NotFoundError("No such export.")
    return job


def export_status_payload(job: TableExport) -> dict:
    terminal = job.status in (ExportStatus.READY, ExportStatus.FAILED)
    return {"id": str(job.id), "status": job.status, "status_label": job.get_status_display(), "progress": job.progress,
            "stage": f"{job.rows} rows" if job.status == ExportStatus.READY else "", "error": job.error_message,
            "terminal": terminal}

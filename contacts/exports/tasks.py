"""The workers' tasks: they carry a job's id, and the job's state lives in its history record."""

from celery import Task, shared_task
from django.conf import settings

from .errors import ExportJobBusy
from .services import export_job_run, export_jobs_reap


@shared_task(
    bind=True,
    name="contacts.exports.tasks.export_job_run",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def export_job_run_task(self: Task, export_id: int) -> None:
    """Run the export job; while another worker's heartbeat on it is fresh, try again once it may have died.

    Acknowledged only once done, and put back when its worker process is killed: a job is never lost,
    and being idempotent it may well run twice.
    """
    try:
        export_job_run(export_id=export_id)
    except ExportJobBusy as busy:
        raise self.retry(countdown=settings.EXPORT_JOB_STALE_SECONDS) from busy


@shared_task(name="contacts.exports.tasks.export_jobs_reap")
def export_jobs_reap_task() -> None:
    """Jobs whose worker died: run again or recorded as failed (see export_jobs_reap)."""
    export_jobs_reap()

"""An export job from a browser page on an allowed origin: log in, create the job, poll its progress, download.

The service here is its own (not the session's e2e one, whose jobs no worker reads): gunicorn on a database of
SEEDED demo contacts, with a Celery worker on a private redis-server running the jobs.
"""

from __future__ import annotations

from collections.abc import Iterator

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from served import prepare_database, served, service_env, suite_database
from services import require_service

from contacts.exports.storage import FILENAME_RE
from contacts.exports.workbook import DATA_SHEET_TITLE, HEADER
from e2e.e2e_support import FRONTEND_PASSWORD, FRONTEND_USER, Service, screenshot, static_origin
from harness.worker import celery_worker, private_redis, redis_server_problem

pytestmark = pytest.mark.slow

# Enough rows for the job to run a few seconds, so that the page sees it running.
SEEDED = 20_000

# What a frontend does with the job API, in the page: create the job, then poll its status_url every
# 200 ms, showing the progress in #status, until it ends. Returns the job's first answer and every state seen.
RUN_JOB = """
async () => {
  const auth = { Authorization: `Bearer ${token}` };
  const response = await fetch(`${API}/api/contacts/exports`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: "{}",
  });
  const created = await response.json();
  const seen = [];
  if (created.code !== 202) return { created, seen };
  for (let poll = 0; poll < 600; poll += 1) {
    const job = (await (await fetch(created.data.status_url, { headers: auth })).json()).data;
    seen.push(job);
    say(`导出任务 ${job.status}:${job.progress}%,已写入 ${job.rows_written} / ${job.total_records} 条`, "ok");
    if (["succeeded", "failed", "cancelled"].includes(job.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { created, seen };
}
"""

# Follow the finished job's download_url as the frontend's export does: a link to it, clicked.
DOWNLOAD = """
(job) => {
  const link = document.createElement("a");
  link.href = job.download_url;
  link.download = job.filename;
  document.body.appendChild(link);
  link.click();
  document.body.removeChild(link);
}
"""


@pytest.fixture(scope="module")
def job_service(tmp_path_factory) -> Iterator[Service]:
    """gunicorn whose export jobs a worker on a private Redis runs, and the frontend's allowed origin."""
    require_service("Redis", redis_server_problem)
    tmp_path = tmp_path_factory.mktemp("e2e_jobs")
    with (
        static_origin() as allowed,
        static_origin() as foreign,
        suite_database(tmp_path, "e2e_jobs") as url,
        private_redis(tmp_path / "redis") as redis,
    ):
        env = service_env(
            url,
            tmp_path,
            REDIS_URL=redis.url,
            CELERY_BROKER_URL=redis.url,
            WEB_CONCURRENCY="2",
            CORS_ALLOWED_ORIGINS=allowed,
        )
        prepare_database(env, contacts=SEEDED, username=FRONTEND_USER)
        with (
            served(env, tmp_path / "logs" / "web") as gunicorn,
            celery_worker(env, tmp_path / "logs" / "worker", extra_args=("--without-mingle", "--without-gossip")),
        ):
            yield Service(gunicorn, allowed_origin=allowed, foreign_origin=foreign)


def test_the_frontend_runs_an_export_job_shows_its_progress_and_downloads_its_file(page: Page, job_service: Service):
    """From an allowed origin: POST a job, poll it (running, rows advancing, then succeeded), download the xlsx."""
    page.goto(job_service.frontend(job_service.allowed_origin))
    page.fill("input[name=username]", FRONTEND_USER)
    page.fill("input[name=password]", FRONTEND_PASSWORD)
    page.click("#login button")
    expect(page.locator("#page-info")).to_contain_text(f"共 {SEEDED} 条")

    result = page.evaluate(RUN_JOB)
    created, seen = result["created"], result["seen"]
    assert created["code"] == 202, created
    assert created["data"]["status"] == "queued"
    assert created["data"]["status_url"] == f"{job_service.url}/api/contacts/exports/{created['data']['id']}"
    assert seen, "no status was seen"
    final = seen[-1]
    assert final["status"] == "succeeded", final
    running = [job["rows_written"] for job in seen if job["status"] == "running"]
    assert [rows for rows in running if 0 < rows < SEEDED], f"the page saw no progress: {running}"
    assert running == sorted(running)
    expect(page.locator("#status")).to_have_text(f"导出任务 succeeded:100%,已写入 {SEEDED} / {SEEDED} 条")
    screenshot(page, "export-job-succeeded")

    with page.expect_download() as download_info:
        page.evaluate(DOWNLOAD, final)
    download = download_info.value
    assert download.suggested_filename == final["filename"]
    assert FILENAME_RE.fullmatch(download.suggested_filename)
    with open(download.path(), "rb") as handle:  # the downloaded file's name has no .xlsx
        book = openpyxl.load_workbook(handle, read_only=True)
        rows = book[DATA_SHEET_TITLE].iter_rows(values_only=True)
        assert next(rows) == HEADER
        assert sum(1 for _ in rows) == final["total_records"] == SEEDED
        book.close()

"""Export jobs served for real: gunicorn takes them over HTTP, Celery workers on a private redis-server run them.

One stack for the module: a database of SEEDED demo contacts (PostgreSQL in the suite's PostgreSQL run),
a redis-server of its own (the broker and the cache, as REDIS_URL in production), and gunicorn. Each test
starts its own workers, and kills or stops them, or Redis, as its scenario says. The in-process behaviour of
the job API is in tests/test_export_jobs.py; the synchronous export's 429 in-process in tests/test_export_api.py
(here: across gunicorn's processes).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import openpyxl
import pytest
from served import call, login, prepare_database, served, service_env, suite_database
from services import require_service

from contacts.exports.storage import FILENAME_RE
from contacts.exports.workbook import DATA_SHEET_TITLE, HEADER
from harness.service import Gunicorn
from harness.worker import CeleryWorker, RedisServer, celery_worker, private_redis, redis_server_problem

pytestmark = pytest.mark.slow

JOBS = "/api/contacts/exports"
# Enough rows for a job to run a few seconds on the worker, so that a test can act while it runs.
SEEDED = 25_000
# A job silent this long is taken for dead: a worker's rerun of a killed job waits this long.
STALE_SECONDS = 3
# The reaper's schedule in the tests that need it (deployed: every 60 s), through a settings overlay.
REAP_OVERLAY = """from boss_dp.settings import *  # noqa: F403

CELERY_BEAT_SCHEDULE["reap dead export jobs"]["schedule"] = {every}  # noqa: F405
"""
REAP_EVERY_SECONDS = 2.0
FINISHED = {"succeeded", "failed", "cancelled"}


@dataclass
class Stack:
    env: dict[str, str]
    redis: RedisServer
    web: Gunicorn
    token: str
    tmp_path: Path

    @property
    def exports(self) -> Path:
        return self.tmp_path / "media" / "exports"

    def worker_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}

    def logs(self, name: str) -> Path:
        return self.tmp_path / "logs" / name


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """gunicorn (3 workers, one synchronous export at a time) on a seeded database, with a private Redis."""
    require_service("Redis", redis_server_problem)
    tmp_path = tmp_path_factory.mktemp("export_workers")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "reap_often_settings.py").write_text(REAP_OVERLAY.format(every=REAP_EVERY_SECONDS))
    with suite_database(tmp_path, "export_workers") as url, private_redis(tmp_path / "redis", persist=True) as redis:
        env = service_env(
            url,
            tmp_path,
            REDIS_URL=redis.url,
            CELERY_BROKER_URL=redis.url,
            PYTHONPATH=str(overlay),
            WEB_CONCURRENCY="3",
            EXPORT_SYNC_MAX_RUNNING="1",
            EXPORT_JOB_STALE_SECONDS=str(STALE_SECONDS),
            EXPORT_CONCURRENT_PER_USER="100",
            EXPORT_DAILY_PER_USER="1000",
        )
        prepare_database(env, contacts=SEEDED)
        with served(env, tmp_path / "logs" / "web") as web:
            yield Stack(env, redis, web, login(web.port), tmp_path)


def worker_for(env: dict[str, str], log_dir: Path, *, beat: bool = False):
    """One worker process of concurrency 1, not waiting for others to greet it."""
    return celery_worker(env, log_dir, beat=beat, extra_args=("--without-mingle", "--without-gossip"))


def accept(stack: Stack) -> int:
    reply = call(stack.web.port, "POST", JOBS, token=stack.token, payload={})
    assert reply.status == 202, reply.body
    data = reply.json()["data"]
    assert data["status"] == "queued"
    return data["id"]


def status(stack: Stack, job_id: int) -> dict:
    reply = call(stack.web.port, "GET", f"{JOBS}/{job_id}", token=stack.token)
    assert reply.status == 200, reply.body
    return reply.json()["data"]


def watch(stack: Stack, job_id: int, *, until, timeout: float, worker: CeleryWorker | None = None) -> list[dict]:
    """The job's states, polled as a frontend does (every 0.2 s here) until `until(state)`."""
    seen = [status(stack, job_id)]
    deadline = time.monotonic() + timeout
    while not until(seen[-1]):
        if time.monotonic() > deadline:
            log = worker.log_text()[-4000:] if worker else ""
            pytest.fail(f"job {job_id} after {timeout} s: {seen[-1]}\nworker log:\n{log}")
        time.sleep(0.2)
        seen.append(status(stack, job_id))
    return seen


def running_with_rows(state: dict) -> bool:
    assert state["status"] not in FINISHED, state
    return state["status"] == "running" and state["rows_written"] > 0


def finished(state: dict) -> bool:
    return state["status"] in FINISHED


def downloaded_rows(stack: Stack, state: dict, tmp_path: Path) -> int:
    """Download the job's file through its download_url; check its name and header; its data rows."""
    assert FILENAME_RE.fullmatch(state["filename"]), state
    url = urlsplit(state["download_url"])
    reply = call(stack.web.port, "GET", f"{url.path}?{url.query}", timeout=120)
    assert reply.status == 200, reply.body[:300]
    path = tmp_path / state["filename"]
    path.write_bytes(reply.body)
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = book[DATA_SHEET_TITLE].iter_rows(values_only=True)
        assert next(rows) == HEADER
        ids = [row[0] for row in rows]
    finally:
        book.close()
    assert len(set(ids)) == len(ids)
    return len(ids)


def exports_folder(stack: Stack) -> set[str]:
    return {path.name for path in stack.exports.iterdir()} if stack.exports.exists() else set()


def published(stack: Stack) -> set[str]:
    """The final names in the exports folder (a killed worker's scratch dot-names are left for the purge)."""
    return {name for name in exports_folder(stack) if not name.startswith(".")}


def test_a_job_accepted_over_http_runs_on_the_worker_and_its_file_downloads(stack, tmp_path):
    """queued → running with rows_written advancing → succeeded; the download_url gives every row."""
    job_id = accept(stack)
    assert status(stack, job_id)["status"] == "queued"  # no worker yet
    with worker_for(stack.env, stack.logs("worker-a")) as worker:
        seen = watch(stack, job_id, until=finished, timeout=60, worker=worker)
    assert seen[-1]["status"] == "succeeded", seen[-1]
    running = [state["rows_written"] for state in seen if state["status"] == "running"]
    assert [rows for rows in running if 0 < rows < SEEDED], f"no progress seen while running: {running}"
    assert running == sorted(running)
    assert all(0 <= state["progress"] <= 100 for state in seen)
    final = seen[-1]
    assert (final["total_records"], final["rows_written"], final["progress"]) == (SEEDED, SEEDED, 100)
    assert downloaded_rows(stack, final, tmp_path) == SEEDED


def test_cancelling_a_running_job_stops_it_within_seconds_and_leaves_no_file(stack):
    """DELETE while it runs: 200, then cancelled within a few seconds, and nothing left in the exports folder."""
    before = exports_folder(stack)
    job_id = accept(stack)
    with worker_for(stack.env, stack.logs("worker-b")) as worker:
        watch(stack, job_id, until=running_with_rows, timeout=30, worker=worker)
        reply = call(stack.web.port, "DELETE", f"{JOBS}/{job_id}", token=stack.token)
        assert reply.status == 200, reply.body
        asked = time.monotonic()
        seen = watch(stack, job_id, until=finished, timeout=10, worker=worker)
        took = time.monotonic() - asked
    assert seen[-1]["status"] == "cancelled", seen[-1]
    assert took < 5
    assert seen[-1]["rows_written"] < SEEDED
    assert exports_folder(stack) == before
    again = call(stack.web.port, "DELETE", f"{JOBS}/{job_id}", token=stack.token)
    assert again.status == 409


def test_a_job_whose_pool_process_is_killed_is_redelivered_and_still_succeeds(stack, tmp_path):
    """SIGKILL of the pool process running it: the task goes back to the queue and the job ends complete."""
    before = published(stack)
    job_id = accept(stack)
    with worker_for(stack.env, stack.logs("worker-c")) as worker:
        watch(stack, job_id, until=running_with_rows, timeout=30, worker=worker)
        (child,) = worker.child_pids()
        os.kill(child, signal.SIGKILL)
        seen = watch(stack, job_id, until=finished, timeout=60, worker=worker)
        log = worker.log_text()
    assert seen[-1]["status"] == "succeeded", f"{seen[-1]}\n{log[-4000:]}"
    assert "WorkerLostError" in log
    assert downloaded_rows(stack, seen[-1], tmp_path) == SEEDED == seen[-1]["total_records"]
    assert published(stack) == before | {seen[-1]["filename"]}, "a file other than the complete one was published"


def killed_mid_run(stack: Stack, name: str) -> int:
    """A job whose whole worker was killed (SIGKILL to all its processes) while it ran."""
    job_id = accept(stack)
    with worker_for(stack.env, stack.logs(name)) as worker:
        watch(stack, job_id, until=running_with_rows, timeout=30, worker=worker)
        worker.kill()
    assert status(stack, job_id)["status"] == "running"
    return job_id


def test_a_job_whose_worker_is_killed_is_run_again_by_a_new_worker_with_the_reaper(stack, tmp_path):
    """Whole worker killed: a new worker with --beat reaps the silent job, queues it again, and it succeeds."""
    before = published(stack)
    job_id = killed_mid_run(stack, "worker-d1")
    env = stack.worker_env(DJANGO_SETTINGS_MODULE="reap_often_settings")
    with worker_for(env, stack.logs("worker-d2"), beat=True) as worker:
        seen = watch(stack, job_id, until=finished, timeout=45, worker=worker)
    assert seen[-1]["status"] == "succeeded", seen[-1]
    assert downloaded_rows(stack, seen[-1], tmp_path) == SEEDED
    assert published(stack) == before | {seen[-1]["filename"]}, "a file other than the complete one was published"


def test_a_killed_job_without_attempts_left_is_recorded_failed_as_interrupted(stack):
    """EXPORT_JOB_MAX_ATTEMPTS=1: the reaper records the killed job failed with 导出中断, and never runs it."""
    job_id = killed_mid_run(stack, "worker-d3")
    env = stack.worker_env(DJANGO_SETTINGS_MODULE="reap_often_settings", EXPORT_JOB_MAX_ATTEMPTS="1")
    with worker_for(env, stack.logs("worker-d4"), beat=True) as worker:
        seen = watch(stack, job_id, until=finished, timeout=30, worker=worker)
        time.sleep(STALE_SECONDS + REAP_EVERY_SECONDS)  # a message still queued for it, or a reap, finds it ended
        later = status(stack, job_id)
    final = seen[-1]
    assert final["status"] == "failed", final
    assert final["error"].startswith("导出中断"), final
    assert final["download_url"] is None
    assert later == final, "the job ran again"


def test_with_redis_down_jobs_are_503_the_export_at_once_works_and_earlier_jobs_run_once_it_is_back(stack, tmp_path):
    """Redis down: POST is a fast 503 envelope, GET /api/contacts/export a 200; a job queued before runs later."""
    earlier = accept(stack)  # no worker yet: it waits in Redis's queue
    stack.redis.stop()
    try:
        began = time.monotonic()
        refused = call(stack.web.port, "POST", JOBS, token=stack.token, payload={})
        took = time.monotonic() - began
        assert refused.status == 503, refused.body
        assert refused.json() == {"code": 503, "msg": "导出任务队列暂时不可用,请稍后重试", "data": None}
        assert took < 10
        at_once = call(stack.web.port, "GET", "/api/contacts/export?worker_id=worker-001", token=stack.token)
        assert at_once.status == 200, at_once.body
        assert status(stack, earlier)["status"] == "queued"
    finally:
        stack.redis.start()
    with worker_for(stack.env, stack.logs("worker-e")) as worker:
        seen = watch(stack, earlier, until=finished, timeout=60, worker=worker)
    assert seen[-1]["status"] == "succeeded", seen[-1]
    assert downloaded_rows(stack, seen[-1], tmp_path) == SEEDED


def test_two_exports_at_once_past_the_machines_slot_one_is_200_and_one_a_429_naming_the_job_api(stack):
    """EXPORT_SYNC_MAX_RUNNING=1 across gunicorn's 3 processes: of two exports at once, one runs, one is a 429."""
    start = threading.Barrier(2)
    replies = []

    def export() -> None:
        start.wait()
        replies.append(call(stack.web.port, "GET", "/api/contacts/export", token=stack.token, timeout=120))

    threads = [threading.Thread(target=export) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(reply.status for reply in replies) == [200, 429], [reply.body[:200] for reply in replies]
    busy = next(reply for reply in replies if reply.status == 429)
    assert busy.headers["retry-after"] == "30"
    assert busy.json()["code"] == 429
    assert "POST /api/contacts/exports" in busy.json()["msg"]
    done = next(reply for reply in replies if reply.status == 200)
    assert done.json()["data"]["total_records"] == SEEDED

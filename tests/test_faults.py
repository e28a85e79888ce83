"""Faults under the served service: a worker killed in the middle of an export, the database going away."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from served import Reply, call, free_port, login, manage, prepare_database, served, service_env, suite_database

pytestmark = [pytest.mark.slow, pytest.mark.load]

FINAL_NAME = re.compile(r"contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.xlsx")
SCRATCH_NAME = re.compile(r"\.(contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.xlsx)\.[0-9a-z_]{8}\.tmp")
# Enough rows that an export takes seconds, so that it can be caught in the middle.
EXPORT_ROWS = 60_000
DATABASE_UNAVAILABLE = {"code": 503, "msg": "数据库暂时不可用,请稍后重试", "data": {"database": "unavailable"}}


@dataclass
class PrivateCluster:
    """A PostgreSQL server of this test alone, so that stopping it disturbs nobody else."""

    root: Path
    port: int
    programs: Path

    def _run(self, *command: str) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*runner, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(self.programs / "initdb"), "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.programs / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.programs / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def private_postgres(programs: Path) -> Iterator[PrivateCluster]:
    """A private cluster run by `programs` (the folder of initdb and pg_ctl), started, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="boss_dp_pg_"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PrivateCluster(root, free_port(), programs)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def assert_error_envelope(reply: Reply) -> None:
    text = reply.body.decode()
    assert reply.status in (500, 503), text
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body = reply.json()
    assert set(body) == {"code", "msg", "data"}
    assert body["code"] == reply.status
    assert body["msg"] in ("服务器内部错误", "数据库暂时不可用,请稍后重试")
    for leaked in ("Traceback", "<html", "psycopg", "OperationalError", "127.0.0.1"):
        assert leaked not in text


def test_database_outage_answers_envelopes_and_the_service_recovers_by_itself(tmp_path, postgres_programs):
    """PostgreSQL stopped: 503 health and error envelopes everywhere; restarted: served again, no restart of ours."""
    with private_postgres(postgres_programs) as cluster:
        env = service_env(cluster.create_database("faults"), tmp_path)
        prepare_database(env, contacts=50)
        with served(env, tmp_path / "logs") as server:
            token = login(server.port)
            workers = server.worker_pids()
            for _ in range(10):  # every worker opens its persistent connection
                assert call(server.port, "GET", "/api/contacts?page=1", token=token).status == 200

            cluster.stop()
            requests = [
                ("GET", "/api/contacts?page=1", None),
                ("GET", "/api/contacts/1", None),
                ("GET", "/api/contacts?search=%E7%BB%8F%E7%90%86", None),
                ("POST", "/api/contacts", {"name": "断线", "account_id": 1}),
                ("PATCH", "/api/contacts/1", {"notes": "断线"}),
            ]
            for _ in range(3):
                health = call(server.port, "GET", "/api/health")
                assert health.status == 503
                assert health.json() == DATABASE_UNAVAILABLE
                for method, path, payload in requests:
                    assert_error_envelope(call(server.port, method, path, token=token, payload=payload))
                assert_error_envelope(
                    call(server.port, "POST", "/api/auth/token", payload={"username": "served", "password": "x" * 12})
                )

            cluster.start()
            deadline = time.monotonic() + 30
            while call(server.port, "GET", "/api/health").status != 200:
                assert time.monotonic() < deadline, "the service did not recover within 30 s"
                time.sleep(0.5)
            for _ in range(15):
                assert call(server.port, "GET", "/api/health").json()["data"] == {"database": "ok"}
                reply = call(server.port, "GET", "/api/contacts?page=1", token=token)
                assert reply.status == 200
                assert reply.json()["data"]["total"] == 50
            assert server.worker_pids() == workers


def worker_writing_in(folder: Path, workers: set[int]) -> int | None:
    """The worker that holds a file of `folder` open, if any."""
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if Path(os.readlink(fd)).parent == folder:
                        return pid
    return None


def export_record(env: dict[str, str], filename: str) -> dict:
    code = (
        "import json\nfrom contacts.models import ContactExport\n"
        f"e = ContactExport.objects.get(filename={filename!r})\n"
        "print(json.dumps({'status': e.status, 'purged': e.purged_at is not None}))"
    )
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def test_worker_killed_mid_export_leaves_no_final_file_and_purge_cleans_up(tmp_path):
    """SIGKILL during an export: no file under a final name, service goes on, purge removes the scratch."""
    with suite_database(tmp_path, "kill") as url:
        env = service_env(url, tmp_path)
        prepare_database(env, contacts=EXPORT_ROWS)
        exports = tmp_path / "media" / "exports"
        with served({**env, "WEB_CONCURRENCY": "2"}, tmp_path / "logs") as server:
            token = login(server.port)
            workers = server.wait_for_workers(2)
            outcome: list[object] = []

            def export() -> None:
                try:
                    outcome.append(call(server.port, "GET", "/api/contacts/export", token=token, timeout=300))
                except (OSError, http.client.HTTPException) as error:
                    outcome.append(error)

            exporting = threading.Thread(target=export)
            exporting.start()
            deadline = time.monotonic() + 60
            victim = None
            while victim is None and not outcome:
                assert time.monotonic() < deadline, "no export started writing within 60 s"
                time.sleep(0.02)
                victim = worker_writing_in(exports, workers) if exports.is_dir() else None
            assert victim is not None, f"the export ended before it could be killed: {outcome}"
            os.kill(victim, signal.SIGKILL)
            exporting.join(timeout=60)

            assert len(outcome) == 1
            assert isinstance(outcome[0], (OSError, http.client.HTTPException)), outcome
            time.sleep(1)
            left = sorted(path.name for path in exports.iterdir())
            assert left, "the killed export left no scratch file: it was not caught in the middle"
            assert all(SCRATCH_NAME.fullmatch(name) for name in left), left
            interrupted = SCRATCH_NAME.fullmatch(left[0]).group(1)

            replacement = server.wait_for_workers(2, other_than={victim})
            assert victim not in replacement
            for _ in range(10):
                assert call(server.port, "GET", "/api/contacts?page=3", token=token).status == 200
            reply = call(server.port, "GET", "/api/contacts/export?worker_id=worker-001", token=token, timeout=300)
            assert reply.status == 200, reply.body
            finished = reply.json()["data"]["filename"]
            assert (exports / finished).is_file()

        assert export_record(env, interrupted) == {"status": "running", "purged": False}
        a_day_ago = time.time() - 2 * 86400
        for name in left:
            os.utime(exports / name, (a_day_ago, a_day_ago))
        report = manage(env, "purge_exports")
        for name in left:
            assert name in report
        assert sorted(path.name for path in exports.iterdir()) == [finished]
        assert export_record(env, interrupted) == {"status": "failed", "purged": True}

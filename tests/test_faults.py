"""Faults under the served service: the database going away and coming back."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from served import Reply, call, free_port, login, prepare_database, served, service_env

pytestmark = [pytest.mark.slow, pytest.mark.load]

DATABASE_UNAVAILABLE = {"code": 503, "msg": "数据库暂时不可用,请稍后重试", "data": {"database": "unavailable"}}


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    assert found, "PostgreSQL's server binaries are not installed (/usr/lib/postgresql/<version>/bin)"
    return found[-1].parent


@dataclass
class PrivateCluster:
    """A PostgreSQL server of this test alone, so that stopping it disturbs nobody else."""

    root: Path
    port: int

    def _run(self, *command: str) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*runner, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(postgres_bin() / "initdb"), "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(postgres_bin() / "pg_ctl"),
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
        self._run(str(postgres_bin() / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    root = Path(tempfile.mkdtemp(prefix="boss_dp_pg_"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PrivateCluster(root, free_port())
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


def test_database_outage_answers_envelopes_and_the_service_recovers_by_itself(tmp_path):
    """PostgreSQL stopped: 503 health and error envelopes everywhere; restarted: served again, no restart of ours."""
    with private_postgres() as cluster:
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

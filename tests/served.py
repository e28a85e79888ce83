"""The service as it is deployed, for the load and fault tests: gunicorn with gunicorn.conf.py, debug off.

Each test gets its own database outside pytest-django's (the served processes cannot see an
in-memory test database): a SQLite file in the test's temporary folder, or, when the suite runs on
PostgreSQL, a throwaway database on the same server, created and dropped here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
PASSWORD = "served-test-password-0123456789"
READ_WRITE_EXPORT = ("view_contact", "add_contact", "change_contact", "export_contact")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def suite_runs_on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


def postgres_server_url() -> str:
    """The suite's PostgreSQL server, or the machine's (TEST_POSTGRES_URL) when the suite runs on SQLite."""
    if suite_runs_on_postgres():
        return os.environ["DATABASE_URL"]
    return os.environ.get("TEST_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def throwaway_postgres_database(server_url: str, purpose: str) -> Iterator[str]:
    """A new database on the server of `server_url`, dropped afterwards; yields its URL."""
    import psycopg

    parts = urlsplit(server_url)
    base = re.sub(r"[^a-z0-9_]", "_", parts.path.lstrip("/").lower()) or "boss_dp"
    name = f"{base}_{purpose}_{secrets.token_hex(4)}"[:63]
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def suite_database(tmp_path: Path, purpose: str) -> Iterator[str]:
    """PostgreSQL in the suite's PostgreSQL run, else a SQLite file: yields a DATABASE_URL."""
    if suite_runs_on_postgres():
        with throwaway_postgres_database(os.environ["DATABASE_URL"], purpose) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / f'{purpose}.sqlite3'}"


def service_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "GUNICORN_", "WEB_CONCURRENCY"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "boss_dp.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
            "TMPDIR": str(_made(tmp_path / "tmp")),
        }
    )
    env.update(extra)
    return env


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def prepare_database(env: dict[str, str], *, contacts: int, username: str = "served") -> None:
    """Migrate, load `contacts` demo contacts and create a user who may read, add, change and export."""
    manage(env, "migrate", "--noinput", "-v", "0")
    if contacts:
        manage(env, "seed_contacts", "--count", str(contacts))
    code = (
        "from django.contrib.auth.models import Permission, User\n"
        f"user = User.objects.create_user({username!r}, password={PASSWORD!r})\n"
        "user.user_permissions.set(Permission.objects.filter("
        f"content_type__app_label='contacts', codename__in={list(READ_WRITE_EXPORT)!r}))\n"
    )
    manage(env, "shell", "-c", code)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    path: str,
    *,
    token: str = "",
    payload: dict | None = None,
    body: bytes | None = None,
    timeout: float = 60,
) -> Reply:
    """One HTTP request on a new connection (sync workers close every connection anyway).

    `payload` is sent as JSON; `body`, bytes sent as they are, is labelled JSON too.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if payload is not None:
        body = json.dumps(payload).encode()
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def child_pids(parent: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == parent and fields[0] != "Z":
                children.add(int(stat.parent.name))
    return children


@dataclass
class Gunicorn:
    """gunicorn started with the repository's gunicorn.conf.py; stopped (and reaped) by `stop`."""

    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def access_log(self) -> Path:
        return self.log_dir / "access.log"

    @property
    def error_log(self) -> Path:
        return self.log_dir / "gunicorn.log"

    def start(self, *, wait_for: str = "/api/health", timeout: float = 60) -> Gunicorn:
        _made(self.log_dir)
        env = {**self.env, "HOST": "127.0.0.1", "PORT": str(self.port), "GUNICORN_ACCESS_LOG": str(self.access_log)}
        with open(self.error_log, "ab") as output:
            self.process = subprocess.Popen(
                [GUNICORN, "-c", "gunicorn.conf.py", "boss_dp.wsgi"],
                cwd=REPO,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited:\n{self.error_log.read_text()[-3000:]}"
            with contextlib.suppress(OSError):
                if call(self.port, "GET", wait_for, timeout=5).status < 500:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer within {timeout} s:\n{self.error_log.read_text()[-3000:]}")

    def worker_pids(self) -> set[int]:
        assert self.process is not None
        return child_pids(self.process.pid)

    def wait_for_workers(self, count: int, *, other_than: set[int] = frozenset(), timeout: float = 60) -> set[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == count and not pids & other_than:
                return pids
            time.sleep(0.2)
        raise AssertionError(f"workers {self.worker_pids()} after {timeout} s, wanted {count} new ones")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextlib.contextmanager
def served(env: dict[str, str], log_dir: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(env, log_dir).start()
    try:
        yield server
    finally:
        server.stop()


def login(port: int, username: str = "served") -> str:
    reply = call(port, "POST", "/api/auth/token", payload={"username": username, "password": PASSWORD})
    assert reply.status == 200, reply.body
    return reply.json()["data"]["access"]

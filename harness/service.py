"""The service's processes: manage.py commands, and gunicorn with the repository's gunicorn.conf.py.

Both run from a service tree (`app_dir`, this repository unless said) with the interpreter running
this code, in the environment they are given.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.client import call

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


class ServiceError(RuntimeError):
    """A command of the service failed, or gunicorn did not come up."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str, timeout: float | None = 600, app_dir: Path = REPO) -> str:
    """`python manage.py ARGS` in `app_dir`; its standard output, or ServiceError with both outputs."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=app_dir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise ServiceError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


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
    """gunicorn started with gunicorn.conf.py on 127.0.0.1:`port`, logging into `log_dir`; stopped by `stop`."""

    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    app_dir: Path = REPO
    process: subprocess.Popen | None = None

    @property
    def access_log(self) -> Path:
        return self.log_dir / "access.log"

    @property
    def error_log(self) -> Path:
        return self.log_dir / "gunicorn.log"

    def start(self, *, wait_for: str = "/api/health", timeout: float = 60) -> Gunicorn:
        """Start it, and return once `wait_for` answers below 500 (ServiceError after `timeout` seconds)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "HOST": "127.0.0.1", "PORT": str(self.port), "GUNICORN_ACCESS_LOG": str(self.access_log)}
        with open(self.error_log, "ab") as output:
            self.process = subprocess.Popen(
                [GUNICORN, "-c", "gunicorn.conf.py", "boss_dp.wsgi"],
                cwd=self.app_dir,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"gunicorn exited:\n{self._log_tail()}")
            with contextlib.suppress(OSError):
                if call(self.port, "GET", wait_for, timeout=5).status < 500:
                    return self
            time.sleep(0.2)
        self.stop()
        raise ServiceError(f"gunicorn did not answer within {timeout} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return self.error_log.read_text(errors="replace")[-3000:]

    def worker_pids(self) -> set[int]:
        if self.process is None:
            raise ServiceError("gunicorn was not started")
        return child_pids(self.process.pid)

    def wait_for_workers(self, count: int, *, other_than: set[int] = frozenset(), timeout: float = 60) -> set[int]:
        """The workers' pids once there are `count` of them and none in `other_than`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == count and not pids & other_than:
                return pids
            time.sleep(0.2)
        raise ServiceError(f"workers {self.worker_pids()} after {timeout} s, wanted {count} new ones")

    def stop(self) -> None:
        """SIGTERM to the master (a graceful stop), SIGKILL to its whole group after 60 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextlib.contextmanager
def served(env: dict[str, str], log_dir: Path, *, app_dir: Path = REPO, timeout: float = 60) -> Iterator[Gunicorn]:
    """gunicorn started for the block, and stopped after it."""
    server = Gunicorn(env, log_dir, app_dir=app_dir).start(timeout=timeout)
    try:
        yield server
    finally:
        server.stop()

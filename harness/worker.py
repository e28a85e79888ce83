"""The export jobs' processes: a Celery worker of the repository's app, and a private redis-server for its broker.

Both are started for a block (`celery_worker`, `private_redis`) and stopped after it, whatever happens in it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.service import REPO, ServiceError, child_pids, free_port

CELERY = str(Path(sys.executable).parent / "celery")
READY = " ready."
_names = itertools.count(1)


def _stop(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to `process`, SIGKILL to its whole group after `timeout` seconds; reaped either way."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class CeleryWorker:
    """`celery -A boss_dp worker` (prefork pool) started in its own process group, logging into `log_dir`."""

    env: dict[str, str]
    log_dir: Path
    concurrency: int = 1
    beat: bool = False
    extra_args: Sequence[str] = ()
    app_dir: Path = REPO
    process: subprocess.Popen | None = None

    @property
    def log_file(self) -> Path:
        return self.log_dir / "worker.log"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServiceError("the worker was not started")
        return self.process.pid

    def log_text(self) -> str:
        """The worker's log (and its standard output and error) so far."""
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        output = self.log_dir / "worker.out"
        if output.exists():
            text += output.read_text(errors="replace")
        return text

    def child_pids(self) -> set[int]:
        """The pool's processes (and the beat's, with --beat)."""
        return child_pids(self.pid)

    def start(self, *, timeout: float = 60) -> CeleryWorker:
        """Start it, and return once it logged that it is ready (ServiceError after `timeout` seconds)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        ready_before = self.log_text().count(READY)
        args = [CELERY, "-A", "boss_dp", "worker", "--pool", "prefork", "--concurrency", str(self.concurrency)]
        args += ["--loglevel", "INFO", "--logfile", str(self.log_file)]
        args += ["--hostname", f"w{os.getpid()}-{next(_names)}@%h"]
        if self.beat:
            args += ["--beat", "--schedule", str(self.log_dir / "celerybeat-schedule")]
        args += list(self.extra_args)
        with open(self.log_dir / "worker.out", "ab") as output:
            self.process = subprocess.Popen(
                args, cwd=self.app_dir, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"the worker exited ({self.process.returncode}):\n{self.log_text()[-3000:]}")
            if self.log_text().count(READY) > ready_before:
                return self
            time.sleep(0.1)
        self.stop()
        raise ServiceError(f"the worker was not ready within {timeout} s:\n{self.log_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the whole worker, its pool included (its process group), and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        pids = self.child_pids()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (a warm shutdown: the running task finishes), SIGKILL to the group after `timeout` seconds."""
        if self.process is not None:
            _stop(self.process, timeout)


@contextlib.contextmanager
def celery_worker(
    env: dict[str, str],
    log_dir: Path,
    *,
    concurrency: int = 1,
    beat: bool = False,
    extra_args: Sequence[str] = (),
    app_dir: Path = REPO,
    timeout: float = 60,
) -> Iterator[CeleryWorker]:
    """A Celery worker (with the beat scheduler under `beat`) ready for the block, and stopped after it."""
    worker = CeleryWorker(env, log_dir, concurrency, beat, extra_args, app_dir).start(timeout=timeout)
    try:
        yield worker
    finally:
        worker.stop()


def redis_server_problem() -> str | None:
    """Why no redis-server program can be started here, or None."""
    return None if shutil.which("redis-server") else "no redis-server on PATH"


@dataclass
class RedisServer:
    """A redis-server of its own on 127.0.0.1:`port`; `stop` and `start` keep the port.

    Nothing is saved to disk, so a restart empties it, unless `persist`: then every write is appended to a
    file in `tmp_dir` (fsync'd) and a restart gets it all back, as a production Redis would.
    """

    tmp_dir: Path
    persist: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 20) -> RedisServer:
        """Start it (again), and return once it answers a PING (ServiceError after `timeout` seconds)."""
        import redis

        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--dir", str(self.tmp_dir)]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        with open(self.tmp_dir / "redis.log", "ab") as output:
            self.process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"redis-server exited:\n{(self.tmp_dir / 'redis.log').read_text()[-2000:]}")
            client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                pass
            finally:
                client.close()
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"redis-server did not answer within {timeout} s")

    def stop(self) -> None:
        """Stop it (its data is lost: nothing is saved)."""
        if self.process is not None:
            _stop(self.process, 10)


@contextlib.contextmanager
def private_redis(tmp_dir: Path, *, persist: bool = False) -> Iterator[RedisServer]:
    """A redis-server of its own for the block (see RedisServer for `persist`), stopped after it."""
    server = RedisServer(tmp_dir, persist).start()
    try:
        yield server
    finally:
        server.stop()

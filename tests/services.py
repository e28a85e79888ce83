"""What some tests need from the machine besides Python, and the one rule for when it is missing.

A test that needs a server or a program (Redis, a PostgreSQL server, PostgreSQL's server programs,
Chromium, git) calls `require_service` with a probe: when the probe finds it missing, the test is
skipped with the reason, or, under REQUIRE_SERVICES=1 (what CI sets), fails with it. The README's
"What the full suite needs" says how to get each one.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

Probe = Callable[[], str | None]
GUIDE = "the README's 'What the full suite needs' says how to get it"


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def require_service(name: str, probe: Probe) -> None:
    """Return when `probe` answers None; else skip the test with its answer, or fail it under REQUIRE_SERVICES=1.

    The probe answers why `name` is unusable here, or None when it is usable.
    """
    problem = probe()
    if problem is None:
        return
    message = f"{name} is not available: {problem}; {GUIDE}"
    if services_required():
        pytest.fail(f"{message} (REQUIRE_SERVICES=1: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def redis_problem(url: str) -> str | None:
    """Why no Redis server answers a PING at `url`, or None."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"no Redis answers at {url} ({_first_line(error)})"
    finally:
        client.close()
    return None


def postgres_problem(url: str) -> str | None:
    """Why the PostgreSQL server of `url` does not let us in, or None.

    The server is asked through its `postgres` maintenance database: the database the URL names need not
    exist (the suite's PostgreSQL run creates its own `test_` one, and throwaway ones beside it).
    """
    import psycopg

    server = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"no PostgreSQL server lets us in at {server} ({_first_line(error)})"
    return None


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's initdb and pg_ctl: Debian's newest /usr/lib/postgresql/<version>/bin, else PATH's."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    if debian:
        return debian[-1].parent
    initdb = shutil.which("initdb")
    if initdb and (Path(initdb).parent / "pg_ctl").exists():
        return Path(initdb).parent
    return None


def postgres_programs_problem() -> str | None:
    """Why a private PostgreSQL cluster cannot be started here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL's initdb and pg_ctl are in neither /usr/lib/postgresql/<version>/bin nor PATH"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "as root, the cluster runs as the system user postgres, which does not exist"
        if shutil.which("runuser") is None:
            return "as root, the cluster is started through runuser, which is missing"
    return None


def executable_problem(path: str) -> str | None:
    """Why `path` is not an executable file, or None."""
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return None
    return f"no executable at {path}"


def git_checkout_problem(repo: Path) -> str | None:
    """Why `git ls-files` cannot list the tracked files of `repo`, or None."""
    if shutil.which("git") is None:
        return "git is not installed"
    result = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return f"{repo.name} is not a git checkout ({result.stderr.strip()})"
    return None

"""Databases created and dropped on a PostgreSQL server, through its `postgres` maintenance database."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _maintenance_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def _execute(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_maintenance_url(url), autocommit=True) as connection:
        connection.execute(statement)


def database_name(url: str) -> str:
    """The database a URL names, refused unless it is a plain lower-case identifier (it goes into SQL)."""
    name = urlsplit(url).path.lstrip("/")
    if not DATABASE_NAME.fullmatch(name):
        raise ValueError(f"unexpected database name {name!r}")
    return name


def recreate_database(url: str) -> None:
    """Drop the database `url` names, if it exists, and create it empty."""
    name = database_name(url)
    _execute(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _execute(url, f"CREATE DATABASE {name}")


@contextlib.contextmanager
def throwaway_database(server_url: str, purpose: str) -> Iterator[str]:
    """A new database on the server of `server_url`, dropped afterwards; yields its URL."""
    parts = urlsplit(server_url)
    base = parts.path.lstrip("/") or "boss_dp"
    prefix = re.sub(r"[^a-z0-9_]", "_", f"{base}_{purpose}".lower())
    url = urlunsplit(parts._replace(path=f"/{prefix[:54]}_{secrets.token_hex(4)}"))
    name = database_name(url)
    _execute(server_url, f"CREATE DATABASE {name}")
    try:
        yield url
    finally:
        _execute(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

"""Print the query plans of the SQL that the service runs for each benchmark case.

Run by bench/run.py with the service's directory as the working directory and its DATABASE_URL:
each case's request goes through the real view (Django's test client) while the SQL is captured,
then every captured SELECT on the contacts table is explained (EXPLAIN ANALYZE on PostgreSQL,
EXPLAIN QUERY PLAN on SQLite). Reads a JSON list of {"name", "url_path", "username"}: each case is
requested as its user; writes JSON.
"""

import json
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

SERVICE_TABLES = ("contacts_",)


def explain(sql: str) -> str:
    prefix = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        return "\n".join(row[0] for row in rows)
    return "\n".join(f"{'  ' * _depth(rows, row)}{row[-1]}" for row in rows)


def _depth(rows: list[tuple], row: tuple) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth


def main(cases_path: str, out_path: str) -> None:
    with open(cases_path, encoding="utf-8") as handle:
        cases = json.load(handle)
    report = []
    for case in cases:
        token = str(RefreshToken.for_user(User.objects.get(username=case["username"])).access_token)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
        client.get(case["url_path"])  # warm caches, as under load
        with CaptureQueriesContext(connection) as captured:
            status = client.get(case["url_path"]).status_code
        queries = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
            and any(table in q["sql"] for table in SERVICE_TABLES)
        ]
        report.append(
            {
                "name": case["name"],
                "status": status,
                "queries": [{"sql": sql, "plan": explain(sql)} for sql in queries],
            }
        )
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump({"vendor": connection.vendor, "cases": report}, handle, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""On PostgreSQL the service keeps its frequent statements prepared, but not those that filter contacts.

Run against the real PostgreSQL server in both of the suite's runs: a throwaway database, the service's own
settings and views in a separate process.
"""

import json
import subprocess

import pytest
from served import PYTHON, REPO, postgres_server_url, service_env, throwaway_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("postgres_server")]

LIST_REQUESTS = """
import json
import django
django.setup()
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken
from contacts.models import Contact

call_command("migrate", verbosity=0)
user = User.objects.create_user("reader")
user.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "view_all_contacts"]))
Contact.objects.create(name="张三", account_id=1, worker_id="worker-001")
client = Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
for _ in range(6):
    for query in ("", "?search=张三", "?search=张三丰", "?worker_id=worker-001", "?reply_status=已回复"):
        response = client.get(f"/api/contacts{query}")
        assert response.status_code == 200, response.content
with connection.cursor() as cursor:
    cursor.execute("SELECT statement FROM pg_prepared_statements")
    print(json.dumps([row[0] for row in cursor.fetchall()]))
"""


def prepared_statements_after_list_requests(tmp_path, **env: str) -> list[str]:
    with throwaway_postgres_database(postgres_server_url(), "prepared") as url:
        result = subprocess.run(
            [PYTHON, "-c", LIST_REQUESTS],
            cwd=REPO,
            env=service_env(url, tmp_path, DJANGO_ALLOWED_HOSTS="testserver", **env),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_user_the_count_and_the_page_are_prepared_but_not_searches_or_filters(tmp_path):
    """Statements on contacts with request values are planned for those values; the rest is planned once."""
    prepared = prepared_statements_after_list_requests(tmp_path)
    assert any("auth_permission" in statement for statement in prepared), prepared
    assert any("contacts_contacttally" in statement for statement in prepared), prepared
    contacts = [statement for statement in prepared if 'FROM "contacts_contact"' in statement]
    assert contacts, prepared
    assert not [statement for statement in contacts if "$1" in statement], contacts


def test_db_prepared_statements_0_prepares_nothing(tmp_path):
    """DB_PREPARED_STATEMENTS=0 leaves Django's default: no statement is kept prepared."""
    assert prepared_statements_after_list_requests(tmp_path, DB_PREPARED_STATEMENTS="0") == []

"""Per-user scoping over HTTP against gunicorn: one user's list, total and ids stop at their accounts.

One served service on the suite's database (SQLite, or PostgreSQL in its run); accounts are assigned
with `manage.py assign_accounts`, as ops do.
"""

from __future__ import annotations

import json

import pytest
from served import PASSWORD, call, login, manage, prepare_database, served, service_env, suite_database

pytestmark = pytest.mark.slow

NOT_FOUND = {"code": 404, "msg": "未找到。", "data": None}
PER_ACCOUNT = {1: 3, 2: 5, 3: 2}


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> tuple[int, dict[int, list[int]]]:
    """The served service, a user `scoped` of accounts 1 and 3, and the contact ids of each account."""
    tmp_path = tmp_path_factory.mktemp("scoping_served")
    with suite_database(tmp_path, "scoping") as url:
        env = service_env(url, tmp_path, LOGIN_RATE_PER_ADDRESS="10000/min")
        prepare_database(env, contacts=0)
        made = manage(
            env,
            "shell",
            "-c",
            "import json\n"
            "from django.contrib.auth.models import Permission, User\n"
            "from contacts.models import Contact\n"
            f"user = User.objects.create_user('scoped', password={PASSWORD!r})\n"
            "user.user_permissions.set(Permission.objects.filter(content_type__app_label='contacts', "
            "codename__in=['view_contact', 'add_contact', 'change_contact']))\n"
            f"ids = {{a: [Contact.objects.create(name=f'账号{{a}}', account_id=a).pk for _ in range(n)]"
            f" for a, n in {PER_ACCOUNT!r}.items()}}\n"
            "print(json.dumps(ids))\n",
        )
        ids = {int(account): pks for account, pks in json.loads(made.strip().splitlines()[-1]).items()}
        assigned = manage(env, "assign_accounts", "--user", "scoped", "1", "3")
        assert assigned == "assigned accounts 1, 3 to user 'scoped'\n"
        with served(env, tmp_path / "logs") as gunicorn:
            yield gunicorn.port, ids


def test_a_user_cannot_read_or_change_another_accounts_contact_by_id(service):
    """An id of account 2 is a 404 to a user of accounts 1 and 3, exactly as an id that does not exist."""
    port, ids = service
    token = login(port, "scoped")
    foreign = ids[2][0]
    read = call(port, "GET", f"/api/contacts/{foreign}", token=token)
    assert (read.status, read.json()) == (404, NOT_FOUND)
    changed = call(port, "PATCH", f"/api/contacts/{foreign}", token=token, payload={"notes": "改了"})
    assert (changed.status, changed.json()) == (404, NOT_FOUND)
    missing = call(port, "GET", "/api/contacts/99999999", token=token)
    assert missing.json() == read.json()
    own = call(port, "GET", f"/api/contacts/{ids[1][0]}", token=token)
    assert (own.status, own.json()["data"]["account_id"]) == (200, 1)


def test_the_list_and_its_total_are_scoped(service):
    """The list shows accounts 1 and 3 only and counts them; the user reading everything counts all."""
    port, ids = service
    page = call(port, "GET", "/api/contacts?page_size=100", token=login(port, "scoped")).json()["data"]
    assert page["total"] == PER_ACCOUNT[1] + PER_ACCOUNT[3]
    assert sorted(item["id"] for item in page["results"]) == sorted(ids[1] + ids[3])
    other = call(port, "GET", "/api/contacts?account_id=2", token=login(port, "scoped")).json()["data"]
    assert (other["total"], other["results"]) == (0, [])
    everything = call(port, "GET", "/api/contacts?page_size=1", token=login(port)).json()["data"]
    assert everything["total"] == sum(PER_ACCOUNT.values())


def test_a_bulk_into_another_account_writes_nothing(service):
    """A bulk report with one item of account 2 is refused whole, naming that item; the total is unchanged."""
    port, _ = service
    token = login(port, "scoped")
    bulk = [{"name": "新人", "account_id": 1}, {"name": "越界", "account_id": 2}]
    refused = call(port, "POST", "/api/contacts", token=token, body=json.dumps(bulk).encode())
    assert refused.status == 400
    assert list(refused.json()["data"]) == ["1"]
    assert list(refused.json()["data"]["1"]) == ["account_id"]
    total = call(port, "GET", "/api/contacts", token=token).json()["data"]["total"]
    assert total == PER_ACCOUNT[1] + PER_ACCOUNT[3]

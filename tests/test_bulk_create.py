"""Bulk reports: POST /api/contacts with a JSON list creates them all in one transaction, or none."""

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import client_for, make_user

from contacts.api.serializers import ACCOUNT_OUT_OF_SCOPE_MSG, BULK_EMPTY_MSG, BULK_TOO_MANY_MSG
from contacts.bulk import BULK_CREATE_MAX
from contacts.models import Contact
from contacts.scoping import accounts_assign

pytestmark = pytest.mark.django_db

URL = "/api/contacts"


@pytest.fixture
def bot(db):
    """A bot worker that reports contacts of accounts 1 and 2."""
    user = make_user("bot", "contacts.add_contact", "contacts.view_contact")
    accounts_assign(holder=user, account_ids=[1, 2])
    return client_for(user)


def item(n: int, **fields) -> dict:
    return {"name": f"候选人{n}", "position": "产品经理", "account_id": 1 + n % 2, "worker_id": f"w-{n % 4}", **fields}


def test_a_list_creates_each_contact_and_answers_them_in_order(bot):
    """201 with the created contacts in the order sent, each as the single create and the detail answer it."""
    sent = [item(0, reply_status="已回复", wechat_exchanged=True), item(1, contacted_at="2024-03-01T10:30:00"), item(2)]
    response = bot.post(URL, sent, format="json")
    assert response.status_code == 201, response.content
    payload = response.json()
    assert (payload["code"], payload["msg"]) == (201, "success")
    created = payload["data"]
    assert [contact["name"] for contact in created] == ["候选人0", "候选人1", "候选人2"]
    assert [contact["id"] for contact in created] == sorted(contact["id"] for contact in created)
    for answered in created:
        assert bot.get(f"{URL}/{answered['id']}").json()["data"] == answered
    assert created[0]["reply_status"] == "已回复" and created[0]["wechat_exchanged"] is True
    assert created[1]["contacted_at"] == "2024-03-01T10:30:00"
    single = bot.post(URL, item(3), format="json").json()["data"]
    assert set(single) == set(created[0])


def test_a_bulk_is_one_insert_per_batch_not_one_per_row(bot):
    """250 contacts are written by as few INSERTs as the database's parameter limit allows (one on PostgreSQL)."""
    with CaptureQueriesContext(connection) as queries:
        response = bot.post(URL, [item(n) for n in range(250)], format="json")
    assert response.status_code == 201
    inserts = [query for query in queries if query["sql"].upper().startswith('INSERT INTO "CONTACTS_CONTACT"')]
    fields = [field for field in Contact._meta.concrete_fields if not field.primary_key]
    batch = connection.ops.bulk_batch_size(fields, [Contact()] * 250)
    assert len(inserts) == math.ceil(250 / batch)
    assert len(inserts) == (1 if connection.vendor == "postgresql" else len(inserts))
    assert Contact.objects.count() == 250


def test_the_kept_tally_counts_a_bulk_exactly(bot):
    """After bulks of mixed accounts and states, each account's tally equals a real count."""
    bot.post(URL, [item(n, reply_status=["未回复", "已回复"][n % 3 == 0]) for n in range(120)], format="json")
    bot.post(URL, [item(n, wechat_exchanged=n % 5 == 0) for n in range(30)], format="json")
    for account in (1, 2):
        for filters in ({}, {"reply_status": "已回复"}, {"wechat_exchanged": True}):
            narrowed = Contact.objects.filter(account_id=account, **filters)
            assert narrowed.tallied_count() == len(narrowed.values_list("id", flat=True)), (account, filters)
    assert bot.get(URL).json()["data"]["total"] == 150


def test_failing_items_are_named_by_index_and_nothing_is_written(bot):
    """Each invalid item's errors under its index; the valid ones are not written either."""
    sent = [item(0), item(1, name=""), item(2), {"account_id": 1}, item(4, account_id=3), item(5, reply_status="x")]
    response = bot.post(URL, sent, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "msg": "1: 该字段不能为空。; 3: 该字段是必填项。; 4: " + ACCOUNT_OUT_OF_SCOPE_MSG + "; 5: “x” 不是合法选项。",
        "data": {
            "1": {"name": ["该字段不能为空。"]},
            "3": {"name": ["该字段是必填项。"]},
            "4": {"account_id": [ACCOUNT_OUT_OF_SCOPE_MSG]},
            "5": {"reply_status": ["“x” 不是合法选项。"]},
        },
    }
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [([], BULK_EMPTY_MSG), ([item(n) for n in range(BULK_CREATE_MAX + 1)], BULK_TOO_MANY_MSG)],
    ids=["empty", "1001"],
)
def test_an_empty_list_or_more_than_1000_is_a_400(bot, body, message):
    """A bulk holds 1 to 1000 contacts; outside that nothing is written."""
    response = bot.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "msg": message, "data": {"non_field_errors": [message]}}
    assert Contact.objects.count() == 0


def test_a_bulk_of_1000_is_accepted_within_the_body_limit(bot):
    """The largest bulk of ordinary contacts fits the 1 MiB body limit and is created whole."""
    response = bot.post(URL, [item(n, notes="已沟通") for n in range(BULK_CREATE_MAX)], format="json")
    assert response.status_code == 201
    assert len(response.json()["data"]) == BULK_CREATE_MAX
    assert Contact.objects.count() == BULK_CREATE_MAX


@pytest.mark.parametrize("entry", [1, "张三", None, [item(0)]], ids=["number", "text", "null", "list"])
def test_an_item_that_is_not_an_object_is_a_400_naming_its_index(bot, entry):
    """Every item must be a JSON object; a stray value is refused by its index."""
    response = bot.post(URL, [item(0), entry], format="json")
    assert response.status_code == 400
    data = response.json()["data"]
    assert list(data) == ["1"]
    assert list(data["1"]) == ["non_field_errors"]
    assert Contact.objects.count() == 0


def test_a_bulk_needs_the_add_permission(db):
    """A reader cannot create in bulk any more than one at a time."""
    reader = make_user("reader-only", "contacts.view_contact", "contacts.view_all_contacts")
    response = client_for(reader).post(URL, [item(0)], format="json")
    assert response.status_code == 403
    assert Contact.objects.count() == 0

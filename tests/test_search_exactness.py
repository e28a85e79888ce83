"""Indexed search answers exactly what a plain case-insensitive substring match answers."""

import random
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from contacts import search
from contacts.api.pagination import ContactPagination
from contacts.filters import ContactFilterSet
from contacts.models import Contact

pytestmark = pytest.mark.django_db

EDGE_TERMS = [
    "张",
    "经理",
    "张三",
    "138",
    "13800",
    "wechat",
    "WeChat",
    "WECHAT",
    "ß",
    "SS",
    "a_b",
    "%",
    "_",
    "\\",
    "b%c",
    "é",
    "É",
    "école",
    "工程师",
    "ab",
    "ABC",
    '"',
    "'",
    "x'y",
    'a"b',
    "NEAR",
    "*",
    "(a)",
    "1",
]


def plain_match_ids(term: str) -> set[int]:
    condition = Q(name__icontains=term) | Q(position__icontains=term) | Q(contact__icontains=term)
    return set(Contact.objects.filter(condition).values_list("id", flat=True))


def searched(data: dict[str, str]):
    filterset = ContactFilterSet(data, queryset=Contact.objects.all())
    assert filterset.is_valid(), filterset.errors
    return filterset.qs


def searched_ids(value: str) -> set[int]:
    return set(searched({"search": value}).values_list("id", flat=True))


def listed_total(value: str) -> int:
    """The list's `total` for a search: what the list's paginator counts."""
    return ContactPagination().count(searched({"search": value}))


@pytest.fixture
def contacts():
    call_command("seed_contacts", count=1500, seed=11, stdout=StringIO())
    for name, position, contact in [
        ("Straße", 'a_b%c\\d "q" NEAR (a) *', "wechat:ABC"),
        ("ÉCOLE", "x'y", "é"),
        ("张三", "产品经理", "13800138000"),
    ]:
        Contact.objects.create(name=name, position=position, contact=contact, account_id=1)


def test_edge_terms_match_exactly_the_plain_substring_rows(contacts):
    """Case, LIKE wildcards, quotes, FTS operators and non-ASCII letters change nothing."""
    for term in EDGE_TERMS:
        assert searched_ids(term) == plain_match_ids(term), term


def test_random_fragments_of_stored_text_match_exactly(contacts):
    """One to four characters cut from real names, positions and contacts match exactly."""
    rng = random.Random(7)
    fields = [value for row in Contact.objects.values_list("name", "position", "contact") for value in row if value]
    for _ in range(120):
        text = rng.choice(fields)
        start = rng.randrange(len(text))
        term = text[start : start + rng.choice((1, 2, 3, 4))].strip()
        if term:
            assert searched_ids(term) == plain_match_ids(term), term


def test_every_term_must_match_somewhere(contacts):
    """Terms separated by white space narrow the result: each must occur in some field."""
    assert searched_ids("张三  经理") == plain_match_ids("张三") & plain_match_ids("经理")
    assert searched_ids(" 138\t张 ") == plain_match_ids("138") & plain_match_ids("张")


def test_the_lists_total_for_a_search_is_the_plain_substring_count(contacts):
    """The total the list answers for a search, counted by position values where it can, is the plain count."""
    rng = random.Random(3)
    fields = [value for row in Contact.objects.values_list("name", "position", "contact") for value in row if value]
    fragments = [rng.choice(fields)[:length] for length in (3, 4, 5, 6) for _ in range(15)]
    for term in [*EDGE_TERMS, "产品经理", "工程师", "ECHAT", "worker", *fragments]:
        assert listed_total(term) == len(plain_match_ids(term)), term


def test_a_search_alone_of_three_characters_or_more_is_counted_by_position_values_on_postgresql(contacts):
    """The fast path counts `产品经理` on PostgreSQL; it leaves 1-2 character terms, searches with another filter,
    several terms and SQLite to the usual count."""
    expected = len(plain_match_ids("产品经理"))
    counted = search.search_count(searched({"search": "产品经理"}))
    assert counted == (expected if connection.vendor == "postgresql" else None)
    assert search.search_count(searched({"search": "经理"})) is None
    assert search.search_count(searched({"search": "产品经理", "reply_status": "已回复"})) is None
    assert search.search_count(searched({"search": "产品经理 张"})) is None
    replied = searched({"search": "产品经理", "reply_status": "已回复"})
    assert ContactPagination().count(replied) == replied.count()


def test_more_positions_than_the_fast_path_lists_are_counted_as_usual(contacts, monkeypatch):
    """Past MAX_POSITION_VALUES distinct positions the fast path declines, and the total is still exact."""
    monkeypatch.setattr(search, "MAX_POSITION_VALUES", 3)
    assert search.search_count(searched({"search": "产品经理"})) is None
    assert listed_total("产品经理") == len(plain_match_ids("产品经理"))

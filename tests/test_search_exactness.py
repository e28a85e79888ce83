"""Indexed search answers exactly what a plain case-insensitive substring match answers."""

import random
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Q

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


def searched_ids(value: str) -> set[int]:
    filterset = ContactFilterSet({"search": value}, queryset=Contact.objects.all())
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("id", flat=True))


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

"""Contacts reported in bulk by the bot workers: many rows in one transaction and as few INSERTs as the
database allows."""

from typing import Any

from django.db import transaction

from .models import Contact

BULK_CREATE_MAX = 1000


def contacts_bulk_create(*, items: list[dict[str, Any]]) -> list[Contact]:
    """Create a contact of each validated item, in order, all or none; return them with their ids.

    One INSERT on PostgreSQL (its statement trigger then upserts the tally rows in one sorted pass, so
    concurrent bulk creates lock them in the same order and cannot deadlock); on SQLite one INSERT per
    batch of as many rows as its parameter limit takes.
    """
    with transaction.atomic():
        return Contact.objects.bulk_create([Contact(**item) for item in items])

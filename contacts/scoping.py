"""Who sees which contacts: a user sees the contacts of the accounts (`account_id`) assigned to them or
to one of their groups; superusers and holders of `contacts.view_all_contacts` see every contact.

The one place the rule lives: the API, the export and its jobs, the import and the admin all narrow
their contacts through `contacts_scoped`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, User
from django.db import transaction
from django.db.models import QuerySet

from .models import GroupAccount, UserAccount

VIEW_ALL_PERMISSION = "contacts.view_all_contacts"
# Where a user object keeps its accounts once read; contacts/backends.py fills it with the user's row.
ACCOUNTS_CACHE = "_contact_accounts"


def contact_accounts_of(*, user: AbstractBaseUser | AnonymousUser | None) -> frozenset[int] | None:
    """The account ids whose contacts `user` sees, or None when they see every contact."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
        return None
    cached = getattr(user, ACCOUNTS_CACHE, None)
    if cached is None:
        own = UserAccount.objects.filter(user_id=user.pk).values_list("account_id", flat=True)
        grouped = GroupAccount.objects.filter(group__user=user.pk).values_list("account_id", flat=True)
        cached = frozenset(own.union(grouped))
        setattr(user, ACCOUNTS_CACHE, cached)
    return cached


def contacts_scoped(*, queryset: QuerySet, user: AbstractBaseUser | AnonymousUser | None) -> QuerySet:
    """`queryset` narrowed to the contacts `user` sees."""
    accounts = contact_accounts_of(user=user)
    if accounts is None:
        return queryset
    return queryset.filter(account_id__in=sorted(accounts))


def accounts_assign(*, holder: User | Group, account_ids: Iterable[int], remove: bool = False) -> list[int]:
    """Give a user or a group the accounts (or, with `remove`, take them away); return the ids that
    changed, in ascending order. Ids already so are left alone, so that running it again changes nothing."""
    if isinstance(holder, Group):
        links = GroupAccount.objects.filter(group=holder)
        new = [GroupAccount(group=holder, account_id=account_id) for account_id in sorted(set(account_ids))]
    else:
        links = UserAccount.objects.filter(user=holder)
        new = [UserAccount(user=holder, account_id=account_id) for account_id in sorted(set(account_ids))]
    asked = [link.account_id for link in new]
    with transaction.atomic():
        present = set(links.filter(account_id__in=asked).values_list("account_id", flat=True))
        if remove:
            links.filter(account_id__in=present).delete()
            return sorted(present)
        new = [link for link in new if link.account_id not in present]
        if new:
            type(new[0]).objects.bulk_create(new, ignore_conflicts=True)
        return [link.account_id for link in new]

"""Who sees which contacts: a user sees the contacts of the accounts (`account_id`) assigned to them or
to one of their groups; superusers and holders of `contacts.view_all_contacts` see every contact.

The one place the rule lives: the API, the export and its jobs, the import and the admin all narrow
their contacts through `contacts_scoped`.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import GroupAccount, UserAccount

VIEW_ALL_PERMISSION = "contacts.view_all_contacts"


def contact_accounts_of(*, user: AbstractBaseUser | AnonymousUser | None) -> frozenset[int] | None:
    """The account ids whose contacts `user` sees, or None when they see every contact."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
        return None
    cached = getattr(user, "_contact_accounts", None)
    if cached is None:
        own = UserAccount.objects.filter(user_id=user.pk).values_list("account_id", flat=True)
        grouped = GroupAccount.objects.filter(group__user=user.pk).values_list("account_id", flat=True)
        cached = frozenset(own.union(grouped))
        user._contact_accounts = cached
    return cached


def contacts_scoped(*, queryset: QuerySet, user: AbstractBaseUser | AnonymousUser | None) -> QuerySet:
    """`queryset` narrowed to the contacts `user` sees."""
    accounts = contact_accounts_of(user=user)
    if accounts is None:
        return queryset
    return queryset.filter(account_id__in=sorted(accounts))

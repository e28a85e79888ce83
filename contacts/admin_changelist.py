"""The admin's change lists, guarded: a query string the database cannot take is refused, never a 500.

Django's change list passes its query string to the database with few checks: a NUL reaches
PostgreSQL (which refuses it), any field can be filtered with any lookup (a regular expression the
database rejects, a number SQLite cannot bind), and the date hierarchy computes dates past year
9999. Here every such request becomes Django's own refusal, IncorrectLookupParameters: the list
without its parameters (`?e=1`) and a message saying why.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, SEARCH_VAR, ChangeList, ChangeListSearchForm
from django.db import DataError
from django.http import HttpRequest

from .filters import SEARCH_MAX_LENGTH, TextParamField

REFUSED_MESSAGE = "筛选条件无效,已显示全部记录。"

# The API's refusal of control characters, applied to every name and value of the query string.
_PARAMETER = TextParamField(required=False, strip=False)


class GuardedSearchForm(ChangeListSearchForm):
    """The search box: no control characters and at most as long as the API's search.

    Each term of a search adds a condition; thousands of terms exceed SQLite's expression depth.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {SEARCH_VAR: TextParamField(required=False, strip=False, max_length=SEARCH_MAX_LENGTH)}


class GuardedChangeList(ChangeList):
    search_form_class = GuardedSearchForm

    def get_filters(self, request: HttpRequest) -> tuple:
        """Django's filters, after refusing control characters, impossible dates and undeclared lookups.

        Only the parameters of the list filters and of the date hierarchy filter the list: Django
        would also take any lookup on any field (`?name__regex=(`, `?filters__a=…`), which this
        service does not offer and which reaches the database unchecked.
        """
        for name, values in request.GET.lists():
            if name in (SEARCH_VAR, ERROR_FLAG):
                continue  # the search form reports its own errors beside the list; Django ignores `e`'s value
            for text in (name, *values):
                try:
                    _PARAMETER.clean(text)
                except forms.ValidationError as exc:
                    raise IncorrectLookupParameters(exc) from exc
        try:
            filters = super().get_filters(request)
        except (ValueError, OverflowError) as exc:  # the date hierarchy at year 9999, or year 10**20
            raise IncorrectLookupParameters(exc) from exc
        remaining = set(filters[2])
        if self.date_hierarchy and f"{self.date_hierarchy}__year" in self.filter_params:
            remaining -= {f"{self.date_hierarchy}__gte", f"{self.date_hierarchy}__lt"}
        if remaining:
            raise IncorrectLookupParameters(f"not a filter of this list: {', '.join(sorted(remaining))}")
        return filters

    def get_results(self, request: HttpRequest) -> None:
        """The page of results; a value that the database or its driver cannot take is the client's error.

        E.g. a date hierarchy or date filter so early that it falls before year 1 in UTC, which SQLite
        cannot store.
        """
        try:
            super().get_results(request)
            # Fetched here, so that such a value fails inside this guard even when the count did not read
            # the table (a kept tally answers it) and the page's rows would be the first query to bind it.
            len(self.result_list)
        except (DataError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class GuardedChangeListAdmin(admin.ModelAdmin):
    """A model admin whose change list is guarded; every admin of the site gets it (see admin_site)."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return GuardedChangeList

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """The change list; when Django refuses its parameters, the list it shows instead says why."""
        try:
            return super().get_changelist_instance(request)
        except IncorrectLookupParameters:
            if ERROR_FLAG not in request.GET:
                messages.error(request, REFUSED_MESSAGE)
            raise

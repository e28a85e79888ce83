"""Django's PostgreSQL backend, keeping prepared every statement but those that filter contacts.

With server-side binding psycopg prepares a statement after a few uses on a connection, and PostgreSQL then
plans it once: the user with its permissions, the kept count and the unfiltered page cost a third of the
server time they cost when planned on every request. But after five executions PostgreSQL may switch a
prepared statement to a generic plan, one made without looking at the parameter values. For a statement that
filters contacts by what a request asked (a search term, a worker, an account), the values decide the plan:
a generic plan for a rare search term walked a million rows (8 s instead of 20 ms). Those statements are
therefore sent unprepared and planned for their values every time.

A fast path: without prepared statements (DB_PREPARED_STATEMENTS=0) the list served 20.3% fewer requests
(bench/README.md, the A/B).
"""

from typing import Any

from django.db.backends.postgresql import base

CONTACTS_TABLE = '"contacts_contact"'


class ContactsAwareCursor(base.ServerBindingCursor):
    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> "ContactsAwareCursor":
        if prepare is None and params and isinstance(query, str) and CONTACTS_TABLE in query:
            prepare = False
        return super().execute(query, params, prepare=prepare, binary=binary)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params["cursor_factory"] is base.ServerBindingCursor:
            params["cursor_factory"] = ContactsAwareCursor
        return params

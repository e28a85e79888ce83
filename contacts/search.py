"""The free-text search condition for one term, served by an index on each database.

The answer is always exactly a case-insensitive substring match of the term in the name, position
or contact (Django's `icontains`); the indexes only narrow the rows that are checked:
- PostgreSQL, 3+ characters: trigram GIN indexes on UPPER(col::text), which `icontains` uses as is.
- PostgreSQL, 1-2 characters (`张三`, `经理`): a trigram index cannot serve them, so a GIN index on
  `contacts_grams(name, position, contact)` holds every character and character pair of each upper-cased
  field; containing the term's grams is then the same as containing the term.
- SQLite, 3+ characters: the FTS5 trigram table `contacts_contact_fts` narrows, `LIKE` confirms.
- SQLite, 1-2 characters: a scan.
See migration 0005 for the indexes.

A fast path counts a search alone on PostgreSQL (`search_count`): see there.
"""

from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import Col, RawSQL
from django.db.models.lookups import IContains
from django.db.models.sql.where import OR, WhereNode

PAIR_LENGTH = 2
TRIGRAM_LENGTH = 3
SEARCHED = ("name", "position", "contact")
# Beyond this many distinct positions, listing them costs more than the count it saves.
MAX_POSITION_VALUES = 1000


def _substring(term: str) -> Q:
    return Q(name__icontains=term) | Q(position__icontains=term) | Q(contact__icontains=term)


def search_condition(term: str, *, vendor: str) -> Q | RawSQL:
    if vendor == "postgresql" and len(term) <= PAIR_LENGTH:
        return RawSQL(
            'contacts_grams("contacts_contact"."name", "contacts_contact"."position", "contacts_contact"."contact")'
            " @> contacts_grams(%s)",
            (term,),
            output_field=BooleanField(),
        )
    if vendor == "sqlite" and len(term) >= TRIGRAM_LENGTH:
        phrase = '"' + term.replace('"', '""') + '"'
        in_fts = RawSQL(
            '"contacts_contact"."id" IN (SELECT rowid FROM contacts_contact_fts WHERE contacts_contact_fts MATCH %s)',
            (phrase,),
            output_field=BooleanField(),
        )
        return Q(in_fts) & _substring(term)
    return _substring(term)


def _only_term(queryset: QuerySet) -> str | None:
    """The term when the queryset's one condition is `_substring(term)` (a search alone), else None."""
    query = queryset.query
    if (
        query.is_sliced
        or query.distinct
        or query.combinator
        or query.annotations
        or query.extra
        or len(query.alias_map) > 1
        or query.where.negated
        or len(query.where.children) != 1
    ):
        return None
    node = query.where.children[0]
    if not isinstance(node, WhereNode) or node.connector != OR or node.negated:
        return None
    fields, terms = [], set()
    for lookup in node.children:
        if not (isinstance(lookup, IContains) and isinstance(lookup.lhs, Col) and isinstance(lookup.rhs, str)):
            return None
        fields.append(lookup.lhs.target.name)
        terms.add(lookup.rhs)
    return terms.pop() if tuple(fields) == SEARCHED and len(terms) == 1 else None


def search_count(queryset: QuerySet) -> int | None:
    """The count of a search alone for a 3+ character term on PostgreSQL, by position values; else None.

    A fast path. Positions are job titles, few and shared: a common term (`产品经理`, 8% of the rows) is
    found in the positions, and counting its rows through the trigram index visits a table page for nearly
    every match (~120 ms at a million rows). Here the distinct positions are listed from the B-tree index of
    migration 0010, the term is matched against each of them, and the rows of the matching ones are counted
    from that index alone; the rows that match by name or contact only are counted as the search counts
    them. The predicate is Django's `icontains` exactly, so the count is the same. None when there are more
    than MAX_POSITION_VALUES positions, or the queryset has other conditions: then count as usual.
    """
    connection = connections[queryset.db]
    term = _only_term(queryset)
    if connection.vendor != "postgresql" or term is None or len(term) < TRIGRAM_LENGTH:
        return None
    quote = connection.ops.quote_name
    table = quote(queryset.model._meta.db_table)
    name, position, contact = (f"UPPER({quote(column)}::text) LIKE UPPER(%s)" for column in SEARCHED)
    column = quote("position")
    # Every statement naming the contacts table is sent unprepared (boss_dp/postgresql/base.py).
    sql = f"""
        WITH RECURSIVE positions (value, probed) AS (
            (SELECT {column}, 1 FROM {table} ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM {table} WHERE {column} > p.value ORDER BY {column} LIMIT 1), p.probed + 1
            FROM positions AS p WHERE p.value IS NOT NULL AND p.probed <= %s
        )
        SELECT
            (SELECT count(value) FROM positions),
            (SELECT count(*) FROM {table} WHERE {column} IN (
                SELECT value FROM positions WHERE UPPER(value::text) LIKE UPPER(%s))),
            (SELECT count(*) FROM {table} WHERE ({name} OR {contact}) AND ({position}) IS NOT TRUE)
    """  # noqa: S608 - names quoted from the model, values bound
    pattern = f"%{connection.ops.prep_for_like_query(term)}%"
    with connection.cursor() as cursor:
        cursor.execute(sql, [MAX_POSITION_VALUES, pattern, pattern, pattern, pattern])
        probed, by_position, elsewhere = cursor.fetchone()
    return None if probed > MAX_POSITION_VALUES else by_position + elsewhere

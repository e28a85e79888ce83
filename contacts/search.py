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
"""

from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

PAIR_LENGTH = 2
TRIGRAM_LENGTH = 3


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

"""Indexes for free-text search (see contacts/search.py) and the contact-time ordering.

PostgreSQL: pg_trgm GIN indexes on UPPER(col::text), the expression Django's `icontains` emits;
a GIN index on `contacts_grams(name, position, contact)` (every character and character pair of each
upper-cased field) for one- and two-character terms: an expression index rather than a stored column,
so that the table stays narrow and counting many matches visits a third of the pages; an index for `-contacted_at` with empty times last.
SQLite: an FTS5 trigram table over name, position and contact, kept by triggers.
The model does not declare these: they change no query but the ones contacts/search.py writes.
"""

from django.db import migrations

SEARCHED = ("name", "position", "contact")

POSTGRESQL_SQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *(
        f"CREATE INDEX contact_{column}_trgm ON contacts_contact USING gin (UPPER({column}::text) gin_trgm_ops)"
        for column in SEARCHED
    ),
    """
    CREATE FUNCTION contacts_grams(VARIADIC fields text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT coalesce(array_agg(DISTINCT gram), '{}')
        FROM unnest(fields) AS field
        CROSS JOIN LATERAL generate_series(1, char_length(field)) AS position
        CROSS JOIN LATERAL (VALUES (substr(upper(field), position, 1)), (substr(upper(field), position, 2))) AS g(gram)
    $$
    """,
    "CREATE INDEX contact_search_grams ON contacts_contact USING gin (contacts_grams(name, position, contact))",
    "CREATE INDEX contact_contacted_desc_idx ON contacts_contact (contacted_at DESC NULLS LAST, id DESC)",
]

POSTGRESQL_REVERSE_SQL = [
    "DROP INDEX contact_contacted_desc_idx",
    "DROP INDEX contact_search_grams",
    "DROP FUNCTION contacts_grams(VARIADIC text[])",
    *(f"DROP INDEX contact_{column}_trgm" for column in SEARCHED),
]

SQLITE_SQL = [
    """
    CREATE VIRTUAL TABLE contacts_contact_fts USING fts5(
        name, position, contact, content='contacts_contact', content_rowid='id', tokenize='trigram'
    )
    """,
    """
    CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts (rowid, name, position, contact)
        VALUES (NEW.id, NEW.name, NEW.position, NEW.contact);
    END
    """,
    """
    CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts (contacts_contact_fts, rowid, name, position, contact)
        VALUES ('delete', OLD.id, OLD.name, OLD.position, OLD.contact);
    END
    """,
    """
    CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name, position, contact ON contacts_contact BEGIN
        INSERT INTO contacts_contact_fts (contacts_contact_fts, rowid, name, position, contact)
        VALUES ('delete', OLD.id, OLD.name, OLD.position, OLD.contact);
        INSERT INTO contacts_contact_fts (rowid, name, position, contact)
        VALUES (NEW.id, NEW.name, NEW.position, NEW.contact);
    END
    """,
    "INSERT INTO contacts_contact_fts (contacts_contact_fts) VALUES ('rebuild')",
]

SQLITE_REVERSE_SQL = [
    "DROP TRIGGER contacts_fts_insert",
    "DROP TRIGGER contacts_fts_delete",
    "DROP TRIGGER contacts_fts_update",
    "DROP TABLE contacts_contact_fts",
]


def create_indexes(apps, schema_editor):
    statements = POSTGRESQL_SQL if schema_editor.connection.vendor == "postgresql" else SQLITE_SQL
    for statement in statements:
        schema_editor.execute(statement)


def drop_indexes(apps, schema_editor):
    statements = POSTGRESQL_REVERSE_SQL if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE_SQL
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0004_contact_tally")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]

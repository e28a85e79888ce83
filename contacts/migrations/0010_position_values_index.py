"""PostgreSQL: a B-tree index on `position`, for the search's count by position values (contacts/search.py).

Positions are job titles: few distinct values, each shared by many contacts. A term found in 8% of the rows
is mostly found in their positions; counting those rows through the trigram index visits a page of the table
for nearly every match (~120 ms at a million rows), while this index lists the distinct positions and counts
each matching one from the index alone. Not on SQLite, whose search does not use it. The model does not
declare it, as it changes no query but the ones contacts/search.py writes.
"""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX contact_position_idx ON contacts_contact (position)")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX contact_position_idx")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0009_day_tally")]

    operations = [migrations.RunPython(create_index, drop_index)]

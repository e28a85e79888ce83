"""ContactTally and the triggers that keep it exact, so the list's total costs no full-table COUNT.

PostgreSQL: statement-level triggers with transition tables (one upsert per statement, so a bulk
insert of a million rows adds one update, not a million). SQLite: row-level triggers.
"""

from django.db import migrations, models

# Each function adds the change in rows per (reply_status, wechat_exchanged); groups are upserted in
# a fixed order so that concurrent writers lock tally rows in the same order.
UPSERT_DELTAS = """
    INSERT INTO contacts_contacttally AS t (reply_status, wechat_exchanged, total)
    SELECT reply_status, wechat_exchanged, sum(delta) FROM ({changes}) AS changes
    GROUP BY reply_status, wechat_exchanged HAVING sum(delta) <> 0 ORDER BY 1, 2
    ON CONFLICT (reply_status, wechat_exchanged) DO UPDATE SET total = t.total + EXCLUDED.total;
"""
NEW_ROWS = "SELECT reply_status, wechat_exchanged, 1 AS delta FROM contacts_new"
OLD_ROWS = "SELECT reply_status, wechat_exchanged, -1 AS delta FROM contacts_old"

POSTGRESQL_SQL = f"""
CREATE FUNCTION contacts_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {UPSERT_DELTAS.format(changes=NEW_ROWS)} RETURN NULL; END $$;

CREATE FUNCTION contacts_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {UPSERT_DELTAS.format(changes=OLD_ROWS)} RETURN NULL; END $$;

CREATE FUNCTION contacts_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {UPSERT_DELTAS.format(changes=OLD_ROWS + " UNION ALL " + NEW_ROWS)} RETURN NULL; END $$;

CREATE FUNCTION contacts_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM contacts_contacttally; RETURN NULL; END $$;

CREATE TRIGGER contacts_tally_insert AFTER INSERT ON contacts_contact
    REFERENCING NEW TABLE AS contacts_new FOR EACH STATEMENT EXECUTE FUNCTION contacts_tally_insert();
CREATE TRIGGER contacts_tally_delete AFTER DELETE ON contacts_contact
    REFERENCING OLD TABLE AS contacts_old FOR EACH STATEMENT EXECUTE FUNCTION contacts_tally_delete();
CREATE TRIGGER contacts_tally_update AFTER UPDATE ON contacts_contact
    REFERENCING OLD TABLE AS contacts_old NEW TABLE AS contacts_new
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_tally_update();
CREATE TRIGGER contacts_tally_truncate AFTER TRUNCATE ON contacts_contact
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_tally_truncate();
"""

POSTGRESQL_REVERSE_SQL = """
DROP TRIGGER contacts_tally_insert ON contacts_contact;
DROP TRIGGER contacts_tally_delete ON contacts_contact;
DROP TRIGGER contacts_tally_update ON contacts_contact;
DROP TRIGGER contacts_tally_truncate ON contacts_contact;
DROP FUNCTION contacts_tally_insert(), contacts_tally_delete(), contacts_tally_update(), contacts_tally_truncate();
"""

SQLITE_SQL = [
    """
    CREATE TRIGGER contacts_tally_insert AFTER INSERT ON contacts_contact BEGIN
        INSERT INTO contacts_contacttally (reply_status, wechat_exchanged, total)
        VALUES (NEW.reply_status, NEW.wechat_exchanged, 1)
        ON CONFLICT (reply_status, wechat_exchanged) DO UPDATE SET total = total + 1;
    END
    """,
    """
    CREATE TRIGGER contacts_tally_delete AFTER DELETE ON contacts_contact BEGIN
        UPDATE contacts_contacttally SET total = total - 1
        WHERE reply_status = OLD.reply_status AND wechat_exchanged = OLD.wechat_exchanged;
    END
    """,
    """
    CREATE TRIGGER contacts_tally_update AFTER UPDATE OF reply_status, wechat_exchanged ON contacts_contact
    WHEN OLD.reply_status IS NOT NEW.reply_status OR OLD.wechat_exchanged IS NOT NEW.wechat_exchanged BEGIN
        UPDATE contacts_contacttally SET total = total - 1
        WHERE reply_status = OLD.reply_status AND wechat_exchanged = OLD.wechat_exchanged;
        INSERT INTO contacts_contacttally (reply_status, wechat_exchanged, total)
        VALUES (NEW.reply_status, NEW.wechat_exchanged, 1)
        ON CONFLICT (reply_status, wechat_exchanged) DO UPDATE SET total = total + 1;
    END
    """,
]

SQLITE_REVERSE_SQL = [
    "DROP TRIGGER contacts_tally_insert",
    "DROP TRIGGER contacts_tally_delete",
    "DROP TRIGGER contacts_tally_update",
]

FILL_SQL = """
INSERT INTO contacts_contacttally (reply_status, wechat_exchanged, total)
SELECT reply_status, wechat_exchanged, count(*) FROM contacts_contact GROUP BY reply_status, wechat_exchanged
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_SQL)
    else:
        for statement in SQLITE_SQL:
            schema_editor.execute(statement)
    schema_editor.execute(FILL_SQL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE_SQL)
    else:
        for statement in SQLITE_REVERSE_SQL:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_cache_table")]

    operations = [
        migrations.CreateModel(
            name="ContactTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reply_status", models.CharField(max_length=8)),
                ("wechat_exchanged", models.BooleanField()),
                ("total", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("reply_status", "wechat_exchanged"), name="contact_tally_unique")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]

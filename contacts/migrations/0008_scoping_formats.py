"""Per-user scoping and export formats (issue 12).

- The kept tally gains `account_id`, so that a user's total (the contacts of their accounts) is read from
  a few tally rows per account, not counted. The triggers of migration 0004 learn the new column: on
  PostgreSQL their functions are replaced, on SQLite they are dropped before the table changes and made
  again after; the tally is then refilled from the table.
- Users and groups are assigned accounts (UserAccount, GroupAccount); `view_all_contacts` sees them all.
- An export records its file format and its columns.
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# As in 0004: the change in rows per group, upserted in a fixed order so that concurrent writers lock
# tally rows in the same order.
UPSERT_DELTAS = """
    INSERT INTO contacts_contacttally AS t (account_id, reply_status, wechat_exchanged, total)
    SELECT account_id, reply_status, wechat_exchanged, sum(delta) FROM ({changes}) AS changes
    GROUP BY account_id, reply_status, wechat_exchanged HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (account_id, reply_status, wechat_exchanged) DO UPDATE SET total = t.total + EXCLUDED.total;
"""
NEW_ROWS = "SELECT account_id, reply_status, wechat_exchanged, 1 AS delta FROM contacts_new"
OLD_ROWS = "SELECT account_id, reply_status, wechat_exchanged, -1 AS delta FROM contacts_old"

POSTGRESQL_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION contacts_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {UPSERT_DELTAS.format(changes=NEW_ROWS)} RETURN NULL; END $$;

CREATE OR REPLACE FUNCTION contacts_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {UPSERT_DELTAS.format(changes=OLD_ROWS)} RETURN NULL; END $$;

CREATE OR REPLACE FUNCTION contacts_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {UPSERT_DELTAS.format(changes=OLD_ROWS + " UNION ALL " + NEW_ROWS)} RETURN NULL; END $$;
"""

_SQLITE_ADD = """
        INSERT INTO contacts_contacttally (account_id, reply_status, wechat_exchanged, total)
        VALUES (NEW.account_id, NEW.reply_status, NEW.wechat_exchanged, 1)
        ON CONFLICT (account_id, reply_status, wechat_exchanged) DO UPDATE SET total = total + 1;
"""
_SQLITE_REMOVE = """
        UPDATE contacts_contacttally SET total = total - 1
        WHERE account_id = OLD.account_id AND reply_status = OLD.reply_status
        AND wechat_exchanged = OLD.wechat_exchanged;
"""
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER contacts_tally_insert AFTER INSERT ON contacts_contact BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER contacts_tally_delete AFTER DELETE ON contacts_contact BEGIN {_SQLITE_REMOVE} END",
    f"""
    CREATE TRIGGER contacts_tally_update AFTER UPDATE OF account_id, reply_status, wechat_exchanged
    ON contacts_contact
    WHEN OLD.account_id IS NOT NEW.account_id OR OLD.reply_status IS NOT NEW.reply_status
    OR OLD.wechat_exchanged IS NOT NEW.wechat_exchanged BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS contacts_tally_insert",
    "DROP TRIGGER IF EXISTS contacts_tally_delete",
    "DROP TRIGGER IF EXISTS contacts_tally_update",
]
REFILL = [
    "DELETE FROM contacts_contacttally",
    """
    INSERT INTO contacts_contacttally (account_id, reply_status, wechat_exchanged, total)
    SELECT account_id, reply_status, wechat_exchanged, count(*) FROM contacts_contact
    GROUP BY account_id, reply_status, wechat_exchanged
    """,
]


def sqlite_triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


def triggers_by_account(apps, schema_editor):
    """The triggers count per account from now on, and the tally is refilled so."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTIONS)
    else:
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    for statement in REFILL:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contacts", "0007_export_jobs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(sqlite_triggers_drop, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="contacttally", name="contact_tally_unique"),
        migrations.AddField(
            model_name="contacttally",
            name="account_id",
            field=models.PositiveIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="contacttally",
            constraint=models.UniqueConstraint(
                fields=("account_id", "reply_status", "wechat_exchanged"), name="contact_tally_account_unique"
            ),
        ),
        migrations.RunPython(triggers_by_account, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="contact",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [
                    ("export_contact", "can export contacts"),
                    ("view_all_contacts", "can see the contacts of every account"),
                ],
                "verbose_name": "联系记录",
                "verbose_name_plural": "联系记录",
            },
        ),
        migrations.AddField(
            model_name="contactexport",
            name="file_format",
            field=models.CharField(
                choices=[("xlsx", "Excel (xlsx)"), ("csv", "CSV")], default="xlsx", max_length=8, verbose_name="格式"
            ),
        ),
        migrations.AddField(
            model_name="contactexport",
            name="columns",
            field=models.JSONField(blank=True, default=list, verbose_name="导出列"),
        ),
        migrations.CreateModel(
            name="UserAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "account_id",
                    models.PositiveIntegerField(
                        validators=[django.core.validators.MinValueValidator(1)], verbose_name="账号 ID"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contact_accounts",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="用户",
                    ),
                ),
            ],
            options={
                "verbose_name": "用户的账号",
                "verbose_name_plural": "用户的账号",
                "constraints": [models.UniqueConstraint(fields=("user", "account_id"), name="user_account_unique")],
            },
        ),
        migrations.CreateModel(
            name="GroupAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "account_id",
                    models.PositiveIntegerField(
                        validators=[django.core.validators.MinValueValidator(1)], verbose_name="账号 ID"
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contact_accounts",
                        to="auth.group",
                        verbose_name="组",
                    ),
                ),
            ],
            options={
                "verbose_name": "组的账号",
                "verbose_name_plural": "组的账号",
                "constraints": [models.UniqueConstraint(fields=("group", "account_id"), name="group_account_unique")],
            },
        ),
    ]

"""The per-day tally behind the statistics and the list's date-range totals (issue 13).

Only the tables: the triggers depend on DJANGO_TIME_ZONE, so contacts/day_tally.py writes them and fills
the tally right after `migrate` (and again whenever the zone changes).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0008_scoping_formats"),
    ]

    operations = [
        migrations.CreateModel(
            name="DayTallyZone",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("zone", models.CharField(blank=True, default="", max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name="ContactDayTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("account_id", models.PositiveIntegerField()),
                ("worker_id", models.CharField(max_length=64)),
                ("reply_status", models.CharField(max_length=8)),
                ("wechat_exchanged", models.BooleanField()),
                ("total", models.BigIntegerField(default=0)),
            ],
            options={
                "indexes": [models.Index(fields=["worker_id", "day"], name="contact_day_tally_worker_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "account_id", "worker_id", "reply_status", "wechat_exchanged"),
                        name="contact_day_tally_unique",
                    )
                ],
            },
        ),
    ]

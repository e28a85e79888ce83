"""Exports as jobs: queued and cancelled states, progress, heartbeat and times; a job's file is named when it runs."""

# x06

from django.db import migrations, models
from django.db.models import F


def _started_when_created(apps, schema_editor):
    """Exports made before jobs started as they were created."""
    apps.get_model("contacts", "ContactExport").objects.filter(started_at__isnull=True).update(
        started_at=F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0006_text_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="contactexport",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="执行次数"),
        ),
        migrations.AddField(
            model_name="contactexport",
            name="cancel_requested",
            field=models.BooleanField(default=False, verbose_name="已请求取消"),
        ),
        migrations.AddField(
            model_name="contactexport",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="结束时间"),
        ),
        migrations.AddField(
            model_name="contactexport",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="最近进度时间"),
        ),
        migrations.AddField(
            model_name="contactexport",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="开始时间"),
        ),
        migrations.AddField(
            model_name="contactexport",
            name="total_records",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="符合条件的记录数"),
        ),
        migrations.AlterField(
            model_name="contactexport",
            name="filename",
            field=models.CharField(blank=True, max_length=128, null=True, unique=True, verbose_name="文件名"),
        ),
        migrations.AlterField(
            model_name="contactexport",
            name="row_count",
            field=models.PositiveIntegerField(default=0, verbose_name="已写入行数"),
        ),
        migrations.AlterField(
            model_name="contactexport",
            name="source",
            field=models.CharField(
                choices=[("api", "接口"), ("admin", "后台"), ("job", "导出任务")],
                default="api",
                max_length=8,
                verbose_name="来源",
            ),
        ),
        migrations.AlterField(
            model_name="contactexport",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "排队中"),
                    ("running", "进行中"),
                    ("succeeded", "成功"),
                    ("failed", "失败"),
                    ("cancelled", "已取消"),
                ],
                default="running",
                max_length=16,
                verbose_name="状态",
            ),
        ),
        migrations.RunPython(_started_when_created, migrations.RunPython.noop),
    ]

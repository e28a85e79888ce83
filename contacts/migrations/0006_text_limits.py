"""Validators of the written text fields: no change to the schema of either database."""

import django.core.validators
from django.db import migrations, models

import contacts.validators


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0005_search_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contact",
            name="contact",
            field=models.CharField(
                blank=True,
                default="",
                max_length=128,
                validators=[contacts.validators.validate_no_control_characters],
                verbose_name="联系方式",
            ),
        ),
        migrations.AlterField(
            model_name="contact",
            name="name",
            field=models.CharField(
                max_length=64, validators=[contacts.validators.validate_no_control_characters], verbose_name="姓名"
            ),
        ),
        migrations.AlterField(
            model_name="contact",
            name="notes",
            field=models.TextField(
                blank=True,
                default="",
                validators=[
                    contacts.validators.validate_no_control_characters,
                    django.core.validators.MaxLengthValidator(10000, "请确保这个字段不能超过 %(limit_value)s 个字符。"),
                ],
                verbose_name="备注",
            ),
        ),
        migrations.AlterField(
            model_name="contact",
            name="position",
            field=models.CharField(
                blank=True,
                default="",
                max_length=128,
                validators=[contacts.validators.validate_no_control_characters],
                verbose_name="岗位",
            ),
        ),
        migrations.AlterField(
            model_name="contact",
            name="worker_id",
            field=models.CharField(
                blank=True,
                default="",
                max_length=64,
                validators=[contacts.validators.validate_no_control_characters],
                verbose_name="Worker ID",
            ),
        ),
    ]

from django.conf import settings
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from .querysets import ContactQuerySet
from .validators import validate_no_control_characters

# A bound on what one contact can hold, so that a list page of 100 stays a few megabytes.
NOTES_MAX_LENGTH = 10_000
TEXT = [validate_no_control_characters]


class ReplyStatus(models.TextChoices):
    PENDING = "未回复", "未回复"
    REPLIED = "已回复", "已回复"


class Contact(models.Model):
    """A candidate that a bot worker contacted on the recruiting platform."""

    name = models.CharField("姓名", max_length=64, validators=TEXT)
    position = models.CharField("岗位", max_length=128, blank=True, default="", validators=TEXT)
    contact = models.CharField("联系方式", max_length=128, blank=True, default="", validators=TEXT)
    reply_status = models.CharField("回复状态", max_length=8, choices=ReplyStatus.choices, default=ReplyStatus.PENDING)
    wechat_exchanged = models.BooleanField("是否交换微信", default=False)
    account_id = models.PositiveIntegerField("账号 ID", validators=[MinValueValidator(1)])
    worker_id = models.CharField("Worker ID", max_length=64, blank=True, default="", validators=TEXT)
    # A validator, not `max_length`: that would make SQLite rebuild the table, and its triggers with it.
    notes = models.TextField(
        "备注",
        blank=True,
        default="",
        validators=[*TEXT, MaxLengthValidator(NOTES_MAX_LENGTH, "请确保这个字段不能超过 %(limit_value)s 个字符。")],
    )
    contacted_at = models.DateTimeField("联系时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = "联系记录"
        verbose_name_plural = "联系记录"
        ordering = ["-created_at", "-id"]
        permissions = [
            ("export_contact", "can export contacts"),
            ("view_all_contacts", "can see the contacts of every account"),
        ]
        indexes = [
            models.Index(fields=["created_at", "id"], name="contact_created_idx"),
            models.Index(fields=["contacted_at", "id"], name="contact_contacted_idx"),
            models.Index(fields=["reply_status", "created_at", "id"], name="contact_status_idx"),
            models.Index(fields=["wechat_exchanged", "created_at", "id"], name="contact_wechat_idx"),
            models.Index(fields=["worker_id", "created_at", "id"], name="contact_worker_idx"),
            models.Index(fields=["account_id", "created_at", "id"], name="contact_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.position})" if self.position else self.name


class ContactTally(models.Model):
    """How many contacts have each (account_id, reply_status, wechat_exchanged) triple.

    Kept exact by database triggers (migrations 0004 and 0008) on every insert, update and delete,
    however the rows change, so that counting the table, or one user's accounts of it, costs a few
    rows per account, not a full scan.
    """

    account_id = models.PositiveIntegerField()
    reply_status = models.CharField(max_length=8)
    wechat_exchanged = models.BooleanField()
    total = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account_id", "reply_status", "wechat_exchanged"], name="contact_tally_account_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.reply_status}/{self.wechat_exchanged}: {self.total}"


class ContactDayTally(models.Model):
    """How many contacts were created on each day, per account, worker, reply status and WeChat exchange.

    The day is the local date of `created_at` in the time zone recorded in DayTallyZone. Kept exact by
    database triggers (contacts/day_tally.py) on every insert, update and delete, so that statistics and
    the list's totals for date ranges and workers sum a few rows a day instead of scanning contacts.
    """

    day = models.DateField()
    account_id = models.PositiveIntegerField()
    worker_id = models.CharField(max_length=64)
    reply_status = models.CharField(max_length=8)
    wechat_exchanged = models.BooleanField()
    total = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account_id", "worker_id", "reply_status", "wechat_exchanged"],
                name="contact_day_tally_unique",
            ),
        ]
        indexes = [models.Index(fields=["worker_id", "day"], name="contact_day_tally_worker_idx")]

    def __str__(self) -> str:
        return (
            f"{self.day} {self.account_id}/{self.worker_id}/{self.reply_status}/{self.wechat_exchanged}: {self.total}"
        )


class DayTallyZone(models.Model):
    """The one row naming the time zone whose days ContactDayTally counts (empty until first built)."""

    zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return self.zone


class UserAccount(models.Model):
    """A recruiting-platform account whose contacts a user sees (contacts/scoping.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="用户", on_delete=models.CASCADE, related_name="contact_accounts"
    )
    account_id = models.PositiveIntegerField("账号 ID", validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = "用户的账号"
        verbose_name_plural = "用户的账号"
        constraints = [models.UniqueConstraint(fields=["user", "account_id"], name="user_account_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.account_id}"


class GroupAccount(models.Model):
    """A recruiting-platform account whose contacts every member of a group sees (contacts/scoping.py)."""

    group = models.ForeignKey(
        "auth.Group", verbose_name="组", on_delete=models.CASCADE, related_name="contact_accounts"
    )
    account_id = models.PositiveIntegerField("账号 ID", validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = "组的账号"
        verbose_name_plural = "组的账号"
        constraints = [models.UniqueConstraint(fields=["group", "account_id"], name="group_account_unique")]

    def __str__(self) -> str:
        return f"{self.group} → {self.account_id}"


class ContactExport(models.Model):
    """One export of contacts to a workbook, made at once or as a job: the export history.

    An export made at once (the API's GET, the admin's action) starts running; a job starts queued and a
    worker runs it. `row_count` is the rows written so far, the file's rows once it succeeded.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "进行中"
        SUCCEEDED = "succeeded", "成功"
        FAILED = "failed", "失败"
        CANCELLED = "cancelled", "已取消"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    class FileFormat(models.TextChoices):
        XLSX = "xlsx", "Excel (xlsx)"
        CSV = "csv", "CSV"

    class Source(models.TextChoices):
        API = "api", "接口"
        ADMIN = "admin", "后台"
        JOB = "job", "导出任务"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="导出人", null=True, on_delete=models.SET_NULL)
    username = models.CharField("导出人用户名", max_length=150)
    source = models.CharField("来源", max_length=8, choices=Source.choices, default=Source.API)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.RUNNING)
    filters = models.JSONField("筛选条件", default=dict, blank=True)
    file_format = models.CharField("格式", max_length=8, choices=FileFormat.choices, default=FileFormat.XLSX)
    # The exported columns by field name, in order; empty for the default columns.
    columns = models.JSONField("导出列", default=list, blank=True)
    # A job's file is named when a worker starts it (its time is the file's).
    filename = models.CharField("文件名", max_length=128, unique=True, null=True, blank=True)
    total_records = models.PositiveIntegerField("符合条件的记录数", null=True, blank=True)
    row_count = models.PositiveIntegerField("已写入行数", default=0)
    size_bytes = models.PositiveBigIntegerField("文件大小(字节)", default=0)
    duration_ms = models.PositiveIntegerField("耗时(毫秒)", default=0)
    error = models.TextField("错误", blank=True, default="")
    created_at = models.DateTimeField("导出时间", default=timezone.now, db_index=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    heartbeat_at = models.DateTimeField("最近进度时间", null=True, blank=True)
    cancel_requested = models.BooleanField("已请求取消", default=False)
    attempts = models.PositiveSmallIntegerField("执行次数", default=0)
    purged_at = models.DateTimeField("清理时间", null=True, blank=True)

    class Meta:
        verbose_name = "导出记录"
        verbose_name_plural = "导出记录"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename or f"导出任务 {self.pk}"

    @property
    def progress(self) -> int:
        """Percent of the matching rows written: 100 once succeeded, 0 while nothing is known."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total_records:
            return 0
        return min(99, self.row_count * 100 // self.total_records)

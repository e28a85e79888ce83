import datetime as dt
import random
import time
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from contacts.maintenance import contacts_statistics_refresh
from contacts.models import Contact, ReplyStatus

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国建华志强"
    "晓东海波宁浩宇子轩欣怡梓涵一诺思远雨桐俊杰佳琪婷婷文博嘉怡晨阳天佑若曦诗涵"
)
POSITIONS = [
    "产品经理",
    "高级产品经理",
    "前端工程师",
    "后端工程师",
    "Java开发工程师",
    "Python开发工程师",
    "Go开发工程师",
    "测试工程师",
    "运维工程师",
    "算法工程师",
    "数据分析师",
    "UI设计师",
    "交互设计师",
    "运营专员",
    "新媒体运营",
    "销售经理",
    "客户经理",
    "项目经理",
    "人力资源专员",
    "财务会计",
    "行政助理",
    "客服专员",
    "市场经理",
    "技术总监",
]
NOTES = [
    "",
    "",
    "",
    "沟通顺畅,有意向",
    "已发送简历",
    "薪资期望较高",
    "考虑中,下周再联系",
    "暂不考虑机会",
    "约了周三电话面试",
    "对公司业务感兴趣",
    "要求远程办公",
    "已推荐给用人部门",
]
WORKERS = [f"worker-{n:03d}" for n in range(1, 9)]
ACCOUNTS = range(1, 6)
PHONE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159",
                  "166", "176", "177", "180", "181", "186", "187", "188", "189", "199"]  # fmt: skip
BATCH_SIZE = 5000


def _random_contact(rng: random.Random, created_at: dt.datetime) -> Contact:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    if rng.random() < 0.8:
        contact = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    else:
        contact = f"wechat:{''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(6))}{rng.randrange(1000)}"
    replied = rng.random() < 0.35
    contacted_at = None if rng.random() < 0.1 else created_at + dt.timedelta(minutes=rng.randrange(1, 240))
    return Contact(
        name=name,
        position=rng.choice(POSITIONS),
        contact=contact,
        reply_status=ReplyStatus.REPLIED if replied else ReplyStatus.PENDING,
        wechat_exchanged=replied and rng.random() < 0.5,
        account_id=rng.choice(ACCOUNTS),
        worker_id=rng.choice(WORKERS),
        notes=rng.choice(NOTES),
        contacted_at=contacted_at,
        created_at=created_at,
    )


def generate_contacts(*, count: int, seed: int, days: int, end: dt.datetime) -> Iterator[Contact]:
    """`count` contacts spread evenly, oldest first, over the `days` days before `end`."""
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    span = dt.timedelta(days=days).total_seconds()
    for index in range(count):
        offset = span * (count - index) / count - rng.random() * span / count
        yield _random_contact(rng, end - dt.timedelta(seconds=offset))


class Command(BaseCommand):
    help = "Load realistic demo contacts: the same seed gives the same rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="how many contacts to add")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--days", type=int, default=90, help="spread over the last D days (default 90)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when contacts already exist")

    def handle(self, *args, count: int, seed: int, days: int, if_empty: bool, **options) -> None:
        if count < 0 or days < 1:
            raise CommandError("--count must be >= 0 and --days >= 1")
        if if_empty and Contact.objects.exists():
            self.stdout.write("Contacts already exist: nothing loaded.")
            return
        started = time.monotonic()
        end = timezone.now().replace(microsecond=0)
        batch: list[Contact] = []
        with transaction.atomic():
            for contact in generate_contacts(count=count, seed=seed, days=days, end=end):
                batch.append(contact)
                if len(batch) == BATCH_SIZE:
                    Contact.objects.bulk_create(batch)
                    batch.clear()
            Contact.objects.bulk_create(batch)
        refreshed = contacts_statistics_refresh()
        self.stdout.write(f"Loaded {count} contacts in {time.monotonic() - started:.1f} s; then ran {refreshed}.")

"""The benchmark's cases: what each one requests, and what its label promises about the data.

The search terms were picked from the rows that `seed_contacts --seed 1` generates (the text of the
rows depends only on the seed, not on the day it runs); `expect_share` bounds the share of rows a case
must match for its label to be true, and the harness checks it against the `total` the API answers.
"""

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

SEED = 1
SEED_DAYS = 90
DEEP_PAGE = 40_000
DEEP_PAGE_SIZE = 20

COMMON_TERM = "产品经理"  # the positions 产品经理 and 高级产品经理: 83,301 of 1,000,000 rows
RARE_TERM = "徐怡婷"  # one full name: 11 of 1,000,000 rows
THIRD_TWO_CHAR_TERM = "工程"  # the eight 工程师 positions: 333,479 of 1,000,000 rows
RARE_TWO_CHAR_TERM = "张伟"  # 121 of 1,000,000 rows
PHONE_FRAGMENT = "1381234"  # 3 of 1,000,000 rows
# The scoped cases' user sees two of the five seeded accounts (seed_contacts' ACCOUNTS): ~40% of the rows.
SCOPED_ACCOUNTS = (1, 2)


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    auth: bool = True
    ceiling: bool = False
    # Inclusive bounds on matched rows / all rows, checked on full-size runs; None: not a list.
    expect_share: tuple[float, float] | None = None
    explain: bool = False
    # Requested as the scoped user (SCOPED_ACCOUNTS assigned, no `view_all_contacts`), not the bench user.
    scoped: bool = False
    # A stats request: checked against the list's `total` for the same filters and its groups counted.
    stats: bool = False

    @property
    def url_path(self) -> str:
        return f"{self.path}?{urlencode(self.params)}" if self.params else self.path


def build_cases(*, rows: int, last_day: dt.date, detail_id: int, days: int = SEED_DAYS) -> list[Case]:
    """Every case, in the order they run; `last_day` is the local day of the newest seeded row, `days` the
    days the rows were seeded over."""
    month_share = 30 / days
    year = {"start_date": (last_day - dt.timedelta(days=364)).isoformat(), "end_date": last_day.isoformat()}
    month_end = last_day - dt.timedelta(days=31)
    month_start = month_end - dt.timedelta(days=29)
    deep_page = min(DEEP_PAGE, max(1, int(rows * 0.8) // DEEP_PAGE_SIZE))
    scoped_deep_page = max(1, int(rows * 0.8 * len(SCOPED_ACCOUNTS) / 5) // DEEP_PAGE_SIZE // 2)
    page1 = {"page": "1", "page_size": "20"}
    return [
        Case("hello", "trivial DRF view (ceiling)", "/bench/hello", auth=False, ceiling=True),
        Case("health", "health endpoint", "/api/health", auth=False),
        Case("list", "list page 1, no filter", "/api/contacts", page1, expect_share=(1.0, 1.0), explain=True),
        Case(
            "reply_status",
            "filter reply_status=已回复",
            "/api/contacts",
            {**page1, "reply_status": "已回复"},
            expect_share=(0.30, 0.40),
            explain=True,
        ),
        Case(
            "wechat",
            "filter wechat_exchanged=true",
            "/api/contacts",
            {**page1, "wechat_exchanged": "true"},
            expect_share=(0.14, 0.21),
            explain=True,
        ),
        Case(
            "month",
            "filter one-month date range",
            "/api/contacts",
            {**page1, "start_date": month_start.isoformat(), "end_date": month_end.isoformat()},
            expect_share=(round(month_share * 0.9, 2), round(month_share * 1.11, 2)),
            explain=True,
        ),
        Case(
            "worker",
            "filter worker_id=worker-003",
            "/api/contacts",
            {**page1, "worker_id": "worker-003"},
            expect_share=(0.11, 0.14),
            explain=True,
        ),
        Case(
            "search_common",
            f"search common term {COMMON_TERM}",
            "/api/contacts",
            {**page1, "search": COMMON_TERM},
            expect_share=(0.07, 0.10),
            explain=True,
        ),
        Case(
            "search_rare",
            f"search rare term {RARE_TERM}",
            "/api/contacts",
            {**page1, "search": RARE_TERM},
            expect_share=(0.0, 0.0001),
            explain=True,
        ),
        Case(
            "search_2char_third",
            f"search 2-char term {THIRD_TWO_CHAR_TERM} (a third of rows)",
            "/api/contacts",
            {**page1, "search": THIRD_TWO_CHAR_TERM},
            expect_share=(0.30, 0.37),
            explain=True,
        ),
        Case(
            "search_2char_rare",
            f"search rare 2-char term {RARE_TWO_CHAR_TERM}",
            "/api/contacts",
            {**page1, "search": RARE_TWO_CHAR_TERM},
            expect_share=(0.0, 0.001),
            explain=True,
        ),
        Case(
            "search_phone",
            f"search phone fragment {PHONE_FRAGMENT}",
            "/api/contacts",
            {**page1, "search": PHONE_FRAGMENT},
            expect_share=(0.0, 0.0001),
            explain=True,
        ),
        Case(
            "deep_page",
            f"deep page {deep_page:,} (page_size {DEEP_PAGE_SIZE})",
            "/api/contacts",
            {"page": str(deep_page), "page_size": str(DEEP_PAGE_SIZE)},
            expect_share=(1.0, 1.0),
            explain=True,
        ),
        Case("detail", "detail of one contact", f"/api/contacts/{detail_id}", explain=True),
        Case(
            "scoped_list",
            "scoped list page 1 (2 of 5 accounts)",
            "/api/contacts",
            page1,
            expect_share=(0.35, 0.45),
            explain=True,
            scoped=True,
        ),
        Case(
            "scoped_reply_status",
            "scoped filter reply_status=已回复",
            "/api/contacts",
            {**page1, "reply_status": "已回复"},
            expect_share=(0.10, 0.18),
            explain=True,
            scoped=True,
        ),
        Case(
            "scoped_deep_page",
            f"scoped deep page {scoped_deep_page:,} (page_size {DEEP_PAGE_SIZE})",
            "/api/contacts",
            {"page": str(scoped_deep_page), "page_size": str(DEEP_PAGE_SIZE)},
            expect_share=(0.35, 0.45),
            explain=True,
            scoped=True,
        ),
        Case(
            "stats_year_day",
            "stats, a year by day",
            "/api/contacts/stats",
            {**year, "group_by": "day"},
            explain=True,
            stats=True,
        ),
        Case(
            "stats_year_worker",
            "stats, a year by worker",
            "/api/contacts/stats",
            {**year, "group_by": "worker_id"},
            explain=True,
            stats=True,
        ),
        Case("login", "login (POST /api/auth/token)", "/api/auth/token", method="POST", auth=False),
    ]

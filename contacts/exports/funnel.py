"""The per-worker funnel of an export's rows (contacts, replied, WeChat exchanged), counted as they stream.

Rows are counted by (worker_id, reply_status, wechat_exchanged) as they pass, so memory grows with the
workers, not the rows. Past FUNNEL_MAX_WORKERS distinct workers the per-worker counts are folded into
the totals and only those are kept (`by_worker` is then None): the totals stay exact either way.
Rates are fractions rounded to 4 places, 0 without contacts, as GET /api/contacts/stats answers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from contacts.models import ReplyStatus
from contacts.stats import funnel_rate

# The fields a row must carry for the funnel, in the order `FunnelTally.add` takes them.
FUNNEL_FIELDS = ("worker_id", "reply_status", "wechat_exchanged")
FUNNEL_MAX_WORKERS = 10_000


@dataclass(frozen=True)
class FunnelLine:
    """One group of the funnel: a worker's rows, or all of them."""

    key: str
    contacts: int
    replied: int
    wechat_exchanged: int

    @property
    def reply_rate(self) -> float:
        return funnel_rate(self.replied, self.contacts)

    @property
    def wechat_rate(self) -> float:
        return funnel_rate(self.wechat_exchanged, self.contacts)


class FunnelTally:
    """Counts rows by (worker_id, reply_status, wechat_exchanged) as `add` is called once per row."""

    def __init__(self, *, max_workers: int | None = None) -> None:
        self.max_workers = FUNNEL_MAX_WORKERS if max_workers is None else max_workers
        self._counts: dict[tuple[str | None, str, bool], int] = {}
        self._workers: set[str] = set()
        self._folded = False

    def add(self, key: tuple[str, str, bool]) -> None:
        """Count one row of `key`: (worker_id, reply_status, wechat_exchanged)."""
        if self._folded:
            key = (None, key[1], key[2])
        counts = self._counts
        if key in counts:
            counts[key] += 1
        else:
            self._first_of(key)

    def _first_of(self, key: tuple[str | None, str, bool]) -> None:
        worker = key[0]
        if worker is not None and worker not in self._workers:
            if len(self._workers) == self.max_workers:
                self._fold()
                self.add(key)
                return
            self._workers.add(worker)
        self._counts[key] = 1

    def _fold(self) -> None:
        folded: dict[tuple[str | None, str, bool], int] = {}
        for (_, status, wechat), count in self._counts.items():
            folded[(None, status, wechat)] = folded.get((None, status, wechat), 0) + count
        self._counts = folded
        self._workers = set()
        self._folded = True

    @property
    def by_worker(self) -> list[FunnelLine] | None:
        """One line per worker, by worker id; None once there were more than `max_workers` of them."""
        if self._folded:
            return None
        return [FunnelLine(worker, *counts) for worker, counts in sorted(self._grouped().items())]

    @property
    def total(self) -> FunnelLine:
        """The line of every row counted, keyed `合计`."""
        sums = [sum(column) for column in zip(*self._grouped().values(), strict=True)] or [0, 0, 0]
        return FunnelLine("合计", *sums)

    def _grouped(self) -> dict[str | None, list[int]]:
        """Per worker (None once folded): contacts, replied, WeChat exchanged."""
        grouped: dict[str | None, list[int]] = {}
        for (worker, status, exchanged), count in self._counts.items():
            line = grouped.setdefault(worker, [0, 0, 0])
            line[0] += count
            if status == ReplyStatus.REPLIED:
                line[1] += count
            if exchanged:
                line[2] += count
        return grouped

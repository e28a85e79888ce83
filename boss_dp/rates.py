"""Throttle rates as the settings take them: DRF's "10/min", and windows of several units, "1/5s"."""

from __future__ import annotations

import re

RATE_RE = re.compile(r"(\d+)/(\d*)(s|sec|second|m|min|minute|h|hour|d|day)")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """(attempts, window in seconds); ValueError for anything else."""
    match = RATE_RE.fullmatch(rate.strip())
    if match is None:
        raise ValueError(f"{rate!r} is not a rate such as 10/min or 1/5s")
    count, units, unit = match.groups()
    window = int(units or 1) * UNIT_SECONDS[unit[0]]
    if window == 0:
        raise ValueError(f"{rate!r} has an empty window")
    return int(count), window

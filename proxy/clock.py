"""Wall-clock milliseconds: entry ages and freshness are wall-clock facts shared by machines."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000

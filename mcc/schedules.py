"""Human schedule strings ("every 30 minutes", "daily at 02:00") and when a job is next due."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_EVERY = re.compile(r"^every\s+(?:(\d+)\s+)?(second|minute|hour|day)s?$")
# The shortest interval a schedule may ask for: no vendor's counts change faster, and an "every 1 seconds"
# source would spend its API rate limit and a worker thread on nothing new. (Tests of the worker lower it.)
MIN_INTERVAL = timedelta(minutes=1)
_DAILY = re.compile(r"^(?:daily|nightly)(?:\s+at\s+(\d{1,2}):(\d{2}))?$")


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval or a daily wall-clock time (UTC)."""

    text: str
    interval: timedelta | None = None
    at: time | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first due time strictly after `moment` (an aware UTC datetime)."""
        if self.interval is not None:
            return moment + self.interval
        assert self.at is not None
        candidate = datetime.combine(moment.date(), self.at, tzinfo=moment.tzinfo)
        return candidate if candidate > moment else candidate + timedelta(days=1)

    @property
    def period(self) -> timedelta:
        """How often it runs: used to call data stale (older than twice this)."""
        return self.interval if self.interval is not None else timedelta(days=1)


def parse_schedule(text: str) -> Schedule:
    """Parse 'every 30 minutes', 'every hour', 'hourly', 'nightly', 'daily at 02:00'."""
    norm = " ".join(text.strip().lower().split())
    if norm == "hourly":
        norm = "every hour"
    if match := _EVERY.match(norm):
        count = int(match.group(1) or 1)
        if count <= 0:
            raise ValueError(f"schedule {text!r}: the interval must be at least 1")
        interval = timedelta(seconds=count * _UNITS[match.group(2)])
        if interval < MIN_INTERVAL:
            raise ValueError(
                f"schedule {text!r}: runs at most once a minute; write e.g. 'every minute' or 'every 5 minutes'"
            )
        return Schedule(text, interval=interval)
    if match := _DAILY.match(norm):
        hour, minute = (int(match.group(1)), int(match.group(2))) if match.group(1) else (2, 0)
        if hour > 23 or minute > 59:
            raise ValueError(f"schedule {text!r}: {hour:02d}:{minute:02d} is not a time of day")
        return Schedule(text, at=time(hour, minute))
    raise ValueError(
        f"schedule {text!r} is not understood; write e.g. 'every 30 minutes', 'every 6 hours', "
        "'hourly', 'nightly' or 'daily at 02:00'"
    )

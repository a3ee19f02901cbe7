"""Time in log lines: finding a line's timestamp, and reading `since`/`until` values.

Recognised line formats (all timezone-aware on return; a timestamp with no zone is local time):

- ISO 8601 within the first 100 characters: `2024-11-26T01:31:54.123Z`,
  `2024-11-26 01:31:54,123`, `2024-11-26T01:31:54+0100` (journalctl's short-iso);
- syslog at the start of the line: `Nov 26 01:31:54` (year: the current one, or the previous
  one if that would put the line more than a day in the future);
- nginx/apache common log format: `[26/Nov/2024:01:31:54 +0000]`.

A `since`/`until` value is an ISO timestamp or a duration back from now: `90s`, `15m`,
`2h`, `1d`, `1w`.

This module does not read files or decide which lines match.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}
_MON = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
                 r" ?(Z|[+-]\d{2}:?\d{2})?")
SYSLOG = re.compile(r"(?:<\d{1,3}>)?" + _MON + r" {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\b")
CLF = re.compile(r"\[(\d{2})/" + _MON + r"/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\]")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _zone(text: str | None) -> timezone | None:
    if not text:
        return None
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.astimezone()  # naive means local time


def line_time(line: str, *, now: datetime) -> datetime | None:
    """The timestamp a log line starts with (or carries, for common log format), if any."""
    try:
        if m := ISO.search(line, 0, 100):
            y, mo, d, h, mi, s, frac, tz = m.groups()
            micro = int((frac or "0")[:6].ljust(6, "0"))
            return _aware(datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro,
                                   tzinfo=_zone(tz)))
        if m := SYSLOG.match(line):
            mon, d, h, mi, s = m.groups()
            dt = _aware(datetime(now.year, MONTHS[mon], int(d), int(h), int(mi), int(s)))
            if dt > now + timedelta(days=1):
                dt = dt.replace(year=now.year - 1)
            return dt
        if m := CLF.search(line, 0, 200):
            d, mon, y, h, mi, s, tz = m.groups()
            return datetime(int(y), MONTHS[mon], int(d), int(h), int(mi), int(s),
                            tzinfo=_zone(tz))
    except ValueError:  # 2024-13-45: looks like a timestamp, is not one
        return None
    return None


def parse_when(value: str, *, now: datetime) -> datetime:
    """'15m' -> now - 15 minutes; '2024-11-26T01:00:00Z' -> that instant. ValueError if neither."""
    if m := DURATION.match(value):
        return now - timedelta(seconds=float(m.group(1)) * UNITS[m.group(2)])
    try:
        return _aware(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is neither an ISO timestamp (2024-11-26T01:31:54Z) nor a "
                         f"duration back from now (90s, 15m, 2h, 1d, 1w)") from None

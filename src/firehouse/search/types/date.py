"""date parameters: https://hl7.org/fhir/R4/search.html#date.

Every date, on either side, is a range: ``2020`` is the whole year,
``2020-03-01T10:00:00Z`` one second, a Period its start to its end (open
ends reach the beginning or end of time). Times without a zone are taken as
UTC; date-only values are UTC days. The prefixes compare the ranges as the
spec's table says (storage/search_sql.py ``_range``).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, split_prefix, unescape
from firehouse.storage.criteria import DateRow, IndexKind, IndexRow, RangeCond, RangeOp

KIND = IndexKind.DATE
MODIFIERS: frozenset[str] = frozenset()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_MICROS = -62135596800000000  # 0001-01-01T00:00:00Z
MAX_MICROS = 253402300799999999  # 9999-12-31T23:59:59.999999Z
_PATTERN = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def parse_range(text: str) -> tuple[int, int]:
    """A FHIR date, dateTime or instant as its inclusive range in microseconds (UTC).

    Raises ValueError for anything else (month 13, day 45, ...).
    """
    found = _PATTERN.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"not a FHIR date: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    y = int(year)
    if y < 1:
        raise ValueError(f"year out of range in {text[:40]!r}")
    if month is None:
        start = datetime(y, 1, 1, tzinfo=UTC)
        return micros(start), _end(start.replace(year=y + 1) if y < 9999 else None)
    m = int(month)
    if not 1 <= m <= 12:
        raise ValueError(f"month {month} out of range in {text[:40]!r}")
    if day is None:
        start = datetime(y, m, 1, tzinfo=UTC)
        following = start + timedelta(days=calendar.monthrange(y, m)[1])
        return micros(start), _end(following)
    d = int(day)
    if not 1 <= d <= calendar.monthrange(y, m)[1]:
        raise ValueError(f"day {day} out of range in {text[:40]!r}")
    if hour is None:
        start = datetime(y, m, d, tzinfo=UTC)
        return micros(start), _end(start + timedelta(days=1))
    h, mi = int(hour), int(minute)
    s = int(second) if second is not None else 0
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"time out of range in {text[:40]!r}")
    tz = UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 14 or zm > 59:
            raise ValueError(f"time zone out of range in {text[:40]!r}")
        tz = timezone(sign * timedelta(hours=zh, minutes=zm))
    start = datetime(y, m, d, h, mi, s, tzinfo=tz)
    if second is None:
        step = timedelta(minutes=1)
    elif fraction is None:
        step = timedelta(seconds=1)
    else:
        digits = min(len(fraction), 6)
        start += timedelta(microseconds=int(fraction[:digits].ljust(6, "0")))
        step = timedelta(microseconds=10 ** (6 - digits))
    return micros(start), _end(start + step)


def _end(following: datetime | None) -> int:
    return MAX_MICROS if following is None else micros(following) - 1


def _ranges(type_name: str | None, value: Any) -> Iterator[tuple[int, int]]:
    if isinstance(value, str):
        yield parse_range(value)
    elif isinstance(value, dict):
        if type_name == "Timing" or "event" in value or "repeat" in value:
            for event in value.get("event") or ():
                if isinstance(event, str):
                    yield parse_range(event)
            repeat = value.get("repeat")
            if isinstance(repeat, dict) and isinstance(repeat.get("boundsPeriod"), dict):
                yield from _ranges("Period", repeat["boundsPeriod"])
        elif "start" in value or "end" in value:
            start, end = value.get("start"), value.get("end")
            low = parse_range(start)[0] if isinstance(start, str) else MIN_MICROS
            high = parse_range(end)[1] if isinstance(end, str) else MAX_MICROS
            yield low, high


def rows(param: str, values: Sequence[Typed], group: int | None = None) -> list[IndexRow]:
    made: list[IndexRow] = []
    for type_name, value in values:
        for low, high in _ranges(type_name, value):
            made.append(DateRow(param, low, high, group))
    return made


def parse_value(text: str) -> tuple[RangeOp, int, int]:
    prefix, rest = split_prefix(unescape(text))
    try:
        low, high = parse_range(rest)
    except ValueError as exc:
        raise BadValue(str(exc)) from None
    return prefix, low, high  # type: ignore[return-value]


def condition(text: str, modifier: str | None, ctx: QueryContext) -> RangeCond:
    op, low, high = parse_value(text)
    if op == "ap":
        # search.html#prefix: "10% of the gap between now and the date".
        gap = abs(micros(ctx.now) - low) // 10
        low, high = max(low - gap, MIN_MICROS), min(high + gap, MAX_MICROS)
    return RangeCond(op, low, high)

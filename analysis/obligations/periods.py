"""Calendar arithmetic on ISO dates and the first pass's ISO 8601 periods ("P90D", "P1Y", "P10D (business days)").
Exact and conservative: a period it cannot read is None, never a guess."""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_PERIOD = re.compile(r"^P(?P<count>\d+)(?P<unit>[DWMY])(?P<business> \(business days\))?$")
_UNIT_WORDS = {"D": "day", "W": "week", "M": "month", "Y": "year"}


@dataclass(frozen=True)
class Period:
    count: int
    unit: str  # D, M or Y (weeks are days already in the first pass's values)
    business: bool = False

    def words(self) -> str:
        noun = "business day" if self.business else _UNIT_WORDS[self.unit]
        return f"{self.count} {noun}{'' if self.count == 1 else 's'}"


def period(value: str) -> Period | None:
    match = _PERIOD.match(value.strip())
    if not match:
        return None
    unit = match.group("unit")
    count = int(match.group("count"))
    if unit == "W":
        count, unit = count * 7, "D"
    return Period(count, unit, bool(match.group("business")))


def full_date(value: str) -> date | None:
    """A day-exact ISO date; "2019-10" (a month alone) and anything else is None."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def shifted(day: date, by: Period, sign: int = 1) -> date | None:
    """`day` plus (sign 1) or minus (sign -1) the period: months and years keep the day of the month (the 31st
    becomes the month's last day); business days skip Saturdays and Sundays. None outside the calendar."""
    try:
        if by.unit == "Y":
            return _add_months(day, 12 * by.count * sign)
        if by.unit == "M":
            return _add_months(day, by.count * sign)
        if not by.business:
            return day + timedelta(days=by.count * sign)
        left = by.count
        while left:
            day += timedelta(days=sign)
            if day.weekday() < 5:
                left -= 1
        return day
    except (ValueError, OverflowError):
        return None

"""Business days: Monday to Friday, less public holidays and the entity's own.

Terms of a derecho de petición are counted in business days (Ley 1755 de
2015, art. 14; CONTRACT 12). The holidays come from the ``holidays``
package, for ``[site] country`` (Colombia's Ley Emiliani Mondays and the
days tied to Easter are in it); ``[site] extra_holidays`` adds a
municipal fair day. A date is the office's local date ([site] timezone):
a request at 20:00 on a Thursday in Bogotá is Thursday's, though it is
already Friday in UTC.
"""

from __future__ import annotations

import functools
from calendar import monthrange  # the standard library's, not this module
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from .. import localtime

MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
          "noviembre", "diciembre")
WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


def known_country(code: str) -> bool:
    """Whether the ``holidays`` package has that country's holidays."""
    import holidays

    return code.upper() in holidays.list_supported_countries()


@functools.lru_cache(maxsize=8)
def _holidays(country: str):
    """The country's holidays, computed a year at a time as days are asked
    for (about 30 ms a year for Colombia), kept for the process."""
    import holidays

    return holidays.country_holidays(country.upper())


@dataclass(frozen=True)
class Calendar:
    """The business days of one office."""

    country: str = "CO"
    extra: frozenset[date] = field(default_factory=frozenset)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.extra and day not in _holidays(self.country)

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra:
            return "día no hábil de la entidad"
        return _holidays(self.country).get(day)

    def add(self, day: date, n: int) -> date:
        """The ``n``-th business day after ``day`` (n >= 1): day 1 is the
        first business day after it, whatever ``day`` itself is."""
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        while n:
            day += timedelta(days=1)
            if self.is_business_day(day):
                n -= 1
        return day

    def before(self, day: date, n: int) -> date:
        """The ``n``-th business day before ``day``, ``day`` not counted."""
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        while n:
            day -= timedelta(days=1)
            if self.is_business_day(day):
                n -= 1
        return day

    def count(self, start: date, end: date) -> int:
        """Business days after ``start`` up to ``end`` included; 0 when
        ``end`` is not after ``start``. By per-year running counts, not day
        by day: the metrics ask it of every open ticket at every cycle, and
        a ticket overdue for months cost 0.6 ms walked (bench/terms.py)."""
        if end <= start:
            return 0
        if start.year == end.year:
            return self._upto(end) - self._upto(start)
        days = _year_counts(self, start.year)[-1] - self._upto(start) + self._upto(end)
        return days + sum(_year_counts(self, year)[-1] for year in range(start.year + 1, end.year))

    def _upto(self, day: date) -> int:
        """Business days from 1 January of ``day``'s year to ``day`` included."""
        return _year_counts(self, day.year)[day.timetuple().tm_yday]

    def left(self, today: date, due: date) -> int:
        """Business days from ``today`` to ``due``: 0 on the due date, 1 the
        business day before it, -1 the business day after it (CONTRACT 12)."""
        if today <= due:
            return self.count(today, due)
        return -self.count(due, today)


@functools.lru_cache(maxsize=64)
def _year_counts(calendar: Calendar, year: int) -> tuple[int, ...]:
    """Running count of ``year``'s business days: item i is how many of its
    first i days are business days (item 0 is 0; the last is the year's)."""
    counts = [0]
    day = date(year, 1, 1)
    while day.year == year:
        counts.append(counts[-1] + calendar.is_business_day(day))
        day += timedelta(days=1)
    return tuple(counts)


def calendar_of(site) -> Calendar:
    """The calendar of ``[site]`` (a SiteConfig)."""
    return Calendar(site.country.upper(), frozenset(date.fromisoformat(d) for d in site.extra_holidays))


def local_day(moment: str | datetime, zone: tzinfo) -> date:
    """The office's date of a stored UTC time."""
    return localtime.to_local(moment, zone).date()


def add_months(day: date, months: int) -> date:
    """The same date ``months`` calendar months later; the month's last day
    when it has no such date (31 January + 1 month = 28 or 29 February)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def long_date(day: date) -> str:
    """``28 de diciembre de 2026``, as a letter to the entity says it."""
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"


def weekday_date(day: date) -> str:
    """``lunes 28 de diciembre de 2026``."""
    return f"{WEEKDAYS[day.weekday()]} {long_date(day)}"

"""Business days (CONTRACT 12): Colombia's public holidays 2025-2027 as the
decrees list them, written here by hand from the rules (fixed days, Ley
Emiliani Mondays, days tied to Easter), not taken from the package the
calendar uses; and the counting rules of a term."""

from datetime import date, datetime, timedelta, timezone

import pytest

from helpdesk.config import SiteConfig
from helpdesk.localtime import zone
from helpdesk.terms.calendar import Calendar, add_months, calendar_of, local_day, long_date

# Easter Sunday: 20 April 2025, 5 April 2026, 28 March 2027.
# Fixed: 1 Jan, 1 May, 20 Jul, 7 Aug, 8 Dec, 25 Dec (kept when they fall on a weekend).
# Ley 51 de 1983 (Ley Emiliani): 6 Jan, 19 Mar, 29 Jun, 15 Aug, 12 Oct, 1 Nov, 11 Nov on the next Monday.
# Ley 2578 de 2026: 9 July (Nuestra Señora del Rosario de Chiquinquirá), from 2026, on the next Monday.
# Easter-based: Holy Thursday and Good Friday; Ascension +43, Corpus Christi +64, Sagrado Corazón +71 (Mondays).
COLOMBIA = {
    2025: [
        date(2025, 1, 1),    # Año Nuevo (Wed)
        date(2025, 1, 6),    # Reyes: 6 Jan is a Monday
        date(2025, 3, 24),   # San José: 19 Mar (Wed) -> Mon 24
        date(2025, 4, 17),   # Jueves Santo
        date(2025, 4, 18),   # Viernes Santo
        date(2025, 5, 1),    # Día del Trabajo (Thu)
        date(2025, 6, 2),    # Ascensión: Easter + 43
        date(2025, 6, 23),   # Corpus Christi: Easter + 64
        date(2025, 6, 30),   # Sagrado Corazón (Easter + 71) and San Pedro y San Pablo (29 Jun, Sun -> Mon 30)
        date(2025, 7, 20),   # Independencia (Sunday: kept, no business day lost)
        date(2025, 8, 7),    # Batalla de Boyacá (Thu)
        date(2025, 8, 18),   # Asunción: 15 Aug (Fri) -> Mon 18
        date(2025, 10, 13),  # Día de la Raza: 12 Oct (Sun) -> Mon 13
        date(2025, 11, 3),   # Todos los Santos: 1 Nov (Sat) -> Mon 3
        date(2025, 11, 17),  # Independencia de Cartagena: 11 Nov (Tue) -> Mon 17
        date(2025, 12, 8),   # Inmaculada Concepción (Mon)
        date(2025, 12, 25),  # Navidad (Thu)
    ],
    2026: [
        date(2026, 1, 1),    # Año Nuevo (Thu)
        date(2026, 1, 12),   # Reyes: 6 Jan (Tue) -> Mon 12
        date(2026, 3, 23),   # San José: 19 Mar (Thu) -> Mon 23
        date(2026, 4, 2),    # Jueves Santo
        date(2026, 4, 3),    # Viernes Santo
        date(2026, 5, 1),    # Día del Trabajo (Fri)
        date(2026, 5, 18),   # Ascensión
        date(2026, 6, 8),    # Corpus Christi
        date(2026, 6, 15),   # Sagrado Corazón
        date(2026, 6, 29),   # San Pedro y San Pablo (a Monday)
        date(2026, 7, 13),   # Chiquinquirá: 9 Jul (Thu) -> Mon 13 (Ley 2578 de 2026)
        date(2026, 7, 20),   # Independencia (Mon)
        date(2026, 8, 7),    # Batalla de Boyacá (Fri)
        date(2026, 8, 17),   # Asunción: 15 Aug (Sat) -> Mon 17
        date(2026, 10, 12),  # Día de la Raza (a Monday)
        date(2026, 11, 2),   # Todos los Santos: 1 Nov (Sun) -> Mon 2
        date(2026, 11, 16),  # Independencia de Cartagena: 11 Nov (Wed) -> Mon 16
        date(2026, 12, 8),   # Inmaculada Concepción (Tue)
        date(2026, 12, 25),  # Navidad (Fri)
    ],
    2027: [
        date(2027, 1, 1),    # Año Nuevo (Fri)
        date(2027, 1, 11),   # Reyes: 6 Jan (Wed) -> Mon 11
        date(2027, 3, 22),   # San José: 19 Mar (Fri) -> Mon 22
        date(2027, 3, 25),   # Jueves Santo
        date(2027, 3, 26),   # Viernes Santo
        date(2027, 5, 1),    # Día del Trabajo (Saturday: kept)
        date(2027, 5, 10),   # Ascensión
        date(2027, 5, 31),   # Corpus Christi
        date(2027, 6, 7),    # Sagrado Corazón
        date(2027, 7, 5),    # San Pedro y San Pablo: 29 Jun (Tue) -> Mon 5 Jul
        date(2027, 7, 12),   # Chiquinquirá: 9 Jul (Fri) -> Mon 12
        date(2027, 7, 20),   # Independencia (Tue)
        date(2027, 8, 7),    # Batalla de Boyacá (Saturday: kept)
        date(2027, 8, 16),   # Asunción: 15 Aug (Sun) -> Mon 16
        date(2027, 10, 18),  # Día de la Raza: 12 Oct (Tue) -> Mon 18
        date(2027, 11, 1),   # Todos los Santos (a Monday)
        date(2027, 11, 15),  # Independencia de Cartagena: 11 Nov (Thu) -> Mon 15
        date(2027, 12, 8),   # Inmaculada Concepción (Wed)
        date(2027, 12, 25),  # Navidad (Saturday: kept)
    ],
}

BOGOTA = zone("America/Bogota")


@pytest.mark.parametrize("year", sorted(COLOMBIA))
def test_every_day_of_the_year_is_a_business_day_exactly_when_the_decree_list_says(year):
    calendar = Calendar("CO")
    holidays = set(COLOMBIA[year])
    day = date(year, 1, 1)
    wrong = []
    while day.year == year:
        expected = day.weekday() < 5 and day not in holidays
        if calendar.is_business_day(day) != expected:
            wrong.append(f"{day} {day.strftime('%a')}: esperado {'hábil' if expected else 'no hábil'}")
        day += timedelta(days=1)
    assert wrong == []


def test_ley_emiliani_moves_a_holiday_to_the_next_monday_and_leaves_its_own_day_working():
    calendar = Calendar("CO")
    assert not calendar.is_business_day(date(2026, 1, 12))  # Reyes, moved from Tuesday 6
    assert calendar.is_business_day(date(2026, 1, 6))
    assert calendar.is_business_day(date(2027, 10, 12))  # Día de la Raza 2027 is Monday 18
    assert not calendar.is_business_day(date(2027, 10, 18))


def test_easter_days_follow_easter_not_a_fixed_date():
    calendar = Calendar("CO")
    # Holy week moves by nine days from 2026 (Easter 5 April) to 2027 (28 March).
    assert not calendar.is_business_day(date(2026, 4, 2)) and calendar.is_business_day(date(2027, 4, 1))
    assert not calendar.is_business_day(date(2027, 3, 25)) and calendar.is_business_day(date(2026, 3, 26))


def test_day_one_is_the_first_business_day_after_the_radicado():
    calendar = Calendar("CO")
    # Thursday 3 December 2026: day 1 is Friday 4; day 15 skips 8 and 25 December.
    assert calendar.add(date(2026, 12, 3), 1) == date(2026, 12, 4)
    assert calendar.add(date(2026, 12, 3), 15) == date(2026, 12, 28)
    # Received on Saturday 5 December: Monday 7 is day 1.
    assert calendar.add(date(2026, 12, 5), 1) == date(2026, 12, 7)
    # A holiday bridge: Friday 7 August 2026 then Monday 17 August (Asunción).
    assert calendar.add(date(2026, 8, 6), 1) == date(2026, 8, 10)
    assert calendar.add(date(2026, 8, 14), 1) == date(2026, 8, 18)


def test_a_request_at_night_belongs_to_the_local_day_not_the_utc_one():
    # 20:00 on Thursday 3 December in Bogotá is 01:00 on Friday in UTC.
    moment = datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)
    assert local_day(moment, BOGOTA) == date(2026, 12, 3)
    assert local_day("2026-12-04T01:00:00+00:00", BOGOTA) == date(2026, 12, 3)


def test_business_days_left_is_zero_on_the_due_date_and_minus_one_the_next_business_day():
    calendar = Calendar("CO")
    due = date(2026, 12, 24)
    assert calendar.left(due, due) == 0
    assert calendar.left(date(2026, 12, 23), due) == 1
    assert calendar.left(date(2026, 12, 28), due) == -1  # 25 December and the weekend skipped
    assert calendar.left(date(2026, 12, 18), due) == 4


def test_the_reminder_starts_five_business_days_before_the_limit_the_limit_not_counted():
    calendar = Calendar("CO")
    limit = add_months(date(2026, 12, 4), 1)
    assert limit == date(2027, 1, 4)
    assert calendar.before(limit, 5) == date(2026, 12, 24)


def test_a_month_later_is_the_same_date_or_the_last_day_of_a_shorter_month():
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2026, 11, 30), 2) == date(2027, 1, 30)


def test_extra_holidays_of_the_site_are_no_business_days():
    calendar = calendar_of(SiteConfig(extra_holidays=["2026-12-07"]))
    assert not calendar.is_business_day(date(2026, 12, 7))
    assert calendar.add(date(2026, 12, 4), 1) == date(2026, 12, 9)  # 7 local, 8 national


def test_a_mexican_office_counts_mexicos_holidays_not_colombias():
    mexico = Calendar("MX")
    assert not mexico.is_business_day(date(2026, 2, 2))  # Constitución: first Monday of February
    assert mexico.is_business_day(date(2026, 1, 12))  # Colombia's Reyes Monday
    assert not mexico.is_business_day(date(2026, 11, 16))  # Revolución: third Monday of November


def test_long_dates_are_spanish():
    assert long_date(date(2026, 12, 28)) == "28 de diciembre de 2026"


def test_counting_by_running_totals_agrees_with_walking_day_by_day_across_years():
    """Calendar.count sums per-year running counts (the metrics ask it of
    every open ticket at every cycle); walked day by day it must agree,
    across year ends, extra days off and spans of years."""
    import random

    calendar = Calendar("CO", frozenset({date(2026, 5, 12), date(2027, 1, 4)}))

    def walked(start: date, end: date) -> int:
        days, day = 0, start
        while day < end:
            day += timedelta(days=1)
            days += calendar.is_business_day(day)
        return days

    rng = random.Random(24)
    for _ in range(2000):
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(1500))
        end = start + timedelta(days=rng.randrange(-40, 900))
        assert calendar.count(start, end) == walked(start, end), (start, end)

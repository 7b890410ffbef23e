"""Times as people read them: in the office's zone ([site] timezone).

The database keeps ISO 8601 in UTC, and JSON output passes it on as it is;
every screen a person reads shows ``28/11/2026 09:05`` in the zone of the
office (Bogotá by default), because a staff member comparing "received at
04:12" with their wall clock would be five hours off.

The zones come from the system's database (``/usr/share/zoneinfo``) or,
on a machine without one (a slim container), from the ``tzdata`` package,
which is a dependency for that reason: ``zoneinfo`` falls back to it by
itself.
"""

from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FORMAT = "%d/%m/%Y %H:%M"
DAY_FORMAT = "%d/%m/%Y"


def zone(name: str) -> tzinfo:
    """The zone named in [site] timezone; ZoneInfoNotFoundError for any name
    that is not one, whatever zoneinfo's reason (a folder such as "America",
    a path, a name too long for the file system)."""
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise
    except (ValueError, OSError):
        raise ZoneInfoNotFoundError(name) from None


def zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or tz.tzname(None) or "UTC"


def to_local(value: str | datetime | None, zone: tzinfo) -> datetime | None:
    """A stored ISO 8601 time, or an email's Date header, in ``zone``;
    a time without a zone is taken as UTC (how the database keeps them)."""
    if value is None or value == "":
        return None
    moment = _parse(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone)


def show(value: str | datetime | None, zone: tzinfo) -> str:
    """A timestamp for a screen; text that is not one is shown as it is
    (a Date header is whatever the sender wrote)."""
    try:
        moment = to_local(value, zone)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    return moment.strftime(FORMAT) if moment else "-"


def show_day(value: str) -> str:
    """A calendar day (``2026-11-27``, already in the office's zone) for a screen."""
    return date.fromisoformat(value).strftime(DAY_FORMAT)


def _parse(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # An email's Date header (RFC 5322), as `failed` lists it.
        return parsedate_to_datetime(text)

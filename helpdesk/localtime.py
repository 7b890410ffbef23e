"""Times as people read them: in the office's zone ([site] timezone).

The database keeps ISO 8601 in UTC, and JSON output passes it on as it is;
every screen a person reads shows ``28/11/2026 09:05`` in the zone of the
office (Bogotá by default), because a staff member comparing "received at
04:12" with their wall clock would be five hours off.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FORMAT = "%d/%m/%Y %H:%M"

# Bogotá has kept UTC-5 without daylight saving since 1993: the default
# works on a machine without the zone database (a minimal container).
_FIXED = {"America/Bogota": timezone(timedelta(hours=-5), "America/Bogota")}


def zone(name: str) -> tzinfo:
    """The zone named in [site] timezone; ZoneInfoNotFoundError if unknown."""
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        if name in _FIXED:
            return _FIXED[name]
        raise


def zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or tz.tzname(None) or "UTC"


def to_local(value: str | datetime | None, zone: tzinfo) -> datetime | None:
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone)


def show(value: str | datetime | None, zone: tzinfo) -> str:
    """A stored timestamp for a screen; text that is not one is shown as it is."""
    try:
        moment = to_local(value, zone)
    except (TypeError, ValueError):
        return str(value)
    return moment.strftime(FORMAT) if moment else "-"

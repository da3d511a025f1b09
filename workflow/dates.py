"""Date arithmetic the domain relies on: month steps and closing dates in a posting's time zone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

END_OF_DAY = time(23, 59, 59)


def add_months(start: date, months: int) -> date:
    """`start` plus whole months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    return start + relativedelta(months=months)


def closing_instant(value: date | datetime, timezone: str) -> datetime:
    """The UTC instant a closing date means: a date alone runs to 23:59:59 that day, there."""
    zone = ZoneInfo(timezone)
    if isinstance(value, datetime):
        local = value if value.tzinfo else value.replace(tzinfo=zone)
    else:
        local = datetime.combine(value, END_OF_DAY, tzinfo=zone)
    return local.astimezone(UTC)


def start_of_day(day: date, timezone: str) -> datetime:
    """Midnight at the start of `day` in `timezone`, as a UTC instant."""
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def as_instant(value: date | datetime, timezone: str) -> datetime:
    """A date field as an instant (a date means its start, there); a datetime as itself."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(timezone))
    return start_of_day(value, timezone)


def parse_offset(text: str) -> relativedelta:
    """'10d', '-24h', '3mo', '30m' (minutes) as a relativedelta; ValueError otherwise."""
    units = {"mo": "months", "d": "days", "h": "hours", "m": "minutes"}
    raw = text.strip()
    for suffix in ("mo", "d", "h", "m"):
        number = raw.removesuffix(suffix)
        if number != raw and number.lstrip("+-").isdigit():
            return relativedelta(**{units[suffix]: int(number)})
    raise ValueError(f"offset {text!r} is not like '10d', '-24h', '3mo' or '30m'")

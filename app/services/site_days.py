"""A site's calendar days as instants: the console's day filters and day charts all count
days from the site's local midnight."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.model import Slot


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def days_from(first_day: date, days: int, zone: ZoneInfo) -> Slot:
    """From the first day's local midnight to the local midnight that ends the `days` days."""
    return Slot(
        local_midnight(first_day, zone),
        local_midnight(first_day + timedelta(days=days), zone),
    )


def day_bounds(
    first_day: date | None, last_day: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """[first_day's local midnight, the local midnight after last_day), both ends included as
    days; None is an open end (and so is the calendar's last day)."""
    after_last = last_day + timedelta(days=1) if last_day and last_day < date.max else None
    return (
        local_midnight(first_day, zone) if first_day else None,
        local_midnight(after_last, zone) if after_last else None,
    )

"""A site's chargers and their held slots over some days: what the timeline chart draws."""

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from app.domain.model import Device, Site, Slot, User
from app.services.container import Services
from app.services.site_days import days_from
from app.services.sites import managed_site
from app.store.console import NamedRequest, slots_of_site
from app.store.repositories import Devices

MAX_DAYS = 14


@dataclass(frozen=True)
class Timeline:
    site: Site
    window: Slot  # from the first day's local midnight to the last day's end
    devices: list[Device]
    slots: list[NamedRequest]  # approved, waiting, or withdrawn but still held


async def site_timeline(
    services: Services, manager: User, site_id: str, first_day: date, days: int
) -> Timeline:
    days = max(1, min(days, MAX_DAYS))

    def work(conn: Connection) -> Timeline:
        site = managed_site(conn, manager, site_id)
        zone = ZoneInfo(site.timezone)
        window = days_from(first_day, days, zone)
        devices = Devices(conn).visible_to([site.id])
        return Timeline(site, window, devices, slots_of_site(conn, site.id, window))

    return await services.db.read(work)

"""Energy a site's chargers delivered, per charger and per day of the site's calendar,
as their signed receipts report it."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from app.domain.model import Device, Site, User
from app.services.container import Services
from app.services.site_days import days_from
from app.services.sites import managed_site
from app.store.console import energy_of_site
from app.store.repositories import Devices

MAX_DAYS = 92


@dataclass(frozen=True)
class EnergyUse:
    site: Site
    days: list[date]
    devices: list[Device]
    wh: dict[str, list[float]]  # device id -> Wh per day, in the order of `days`


async def energy_use(
    services: Services, manager: User, site_id: str, first_day: date, days: int
) -> EnergyUse:
    """Each session counts on the local day it started."""
    days = max(1, min(days, MAX_DAYS))

    def work(conn: Connection) -> EnergyUse:
        site = managed_site(conn, manager, site_id)
        zone = ZoneInfo(site.timezone)
        window = days_from(first_day, days, zone)
        calendar = [first_day + timedelta(days=n) for n in range(days)]
        devices = Devices(conn).visible_to([site.id])
        wh: dict[str, list[float]] = defaultdict(lambda: [0.0] * days)
        for delivered in energy_of_site(conn, site.id, window):
            day = delivered.started_at.astimezone(zone).date()
            wh[delivered.device_id][(day - first_day).days] += delivered.energy_wh
        return EnergyUse(site, calendar, devices, {d.id: wh[d.id] for d in devices})

    return await services.db.read(work)

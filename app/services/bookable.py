"""What a driver may book: the devices of their sites, with each site's time zone and
longest slot, so a page can offer only choices the rules could accept."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Connection

from app.domain.model import Device, User
from app.services.container import Services
from app.store.repositories import Devices, Sites


@dataclass(frozen=True)
class Bookable:
    device: Device
    site_name: str
    timezone: str
    max_duration: timedelta


async def bookable_devices(services: Services, user: User) -> list[Bookable]:
    def work(conn: Connection) -> list[Bookable]:
        sites = Sites(conn)
        found = []
        for site_id in sites.of_person(user.id):
            site = sites.get(site_id)
            assert site is not None
            for device in Devices(conn).visible_to([site_id]):
                if device.in_service:
                    found.append(
                        Bookable(device, site.name, site.timezone, site.policy.max_duration)
                    )
        return found

    return await services.db.read(work)

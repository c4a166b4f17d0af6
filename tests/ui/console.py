"""What the console's tests share: a second site with its own manager, charger and driver,
so each page can be shown to keep to the manager's own sites."""

from sqlalchemy.engine import Connection

from app.domain.model import Device, Policy, Role, Site, User
from app.services.container import Services
from app.store import tables as t
from app.store.repositories import Devices, Sites, Users

OTHER_MANAGER = User("m2", "other-manager", "Otto Manager", Role.MANAGER)
OTHER_DRIVER = User("u9", "other-driver", "Olga Driver", Role.USER)
OTHER_SITE = Site("site-2", "Hillside Garage", "Asia/Tokyo", Policy())
OTHER_DEVICE = Device("hx-1", "Hill 1", "site-2")


async def add_other_site(services: Services) -> None:
    def work(conn: Connection) -> None:
        users, sites = Users(conn), Sites(conn)
        users.add(OTHER_MANAGER)
        users.add(OTHER_DRIVER)
        sites.add(OTHER_SITE)
        sites.add_person(OTHER_SITE.id, OTHER_MANAGER.id, t.site_managers)
        sites.add_person(OTHER_SITE.id, OTHER_DRIVER.id, t.site_members)
        Devices(conn).add(OTHER_DEVICE)

    await services.db.write(work)

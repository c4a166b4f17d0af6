"""The console's webhooks page: the site's webhooks with their latest deliveries and how
each receiver answered, for the site's managers only."""

import socket
from datetime import timedelta
from typing import Any

from app.domain.model import Role, User
from app.services.container import Services
from app.services.usage import request_usage
from app.services.webhook_delivery import WebhookWorker
from app.services.webhooks import create_webhook
from app.store import tables as t
from app.store.repositories import Sites
from tests.conftest import Clock
from tests.ui.conftest import SLOW, Person, eventually, sign_in
from tests.ui.console import OTHER_SITE, add_other_site

MANAGER = User("m1", "manager", "Mia Manager", Role.MANAGER)
UDO = User("u1", "user", "Udo Driver", Role.USER)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/hook"


def rows(user: Any) -> list[dict[str, Any]]:
    [table] = user.find(marker="deliveries").elements
    return list(table.rows)


async def test_the_manager_sees_each_delivery_and_its_last_answer(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    await add_other_site(services)  # Mia manages it too, first by name: it has no webhook
    await services.db.write(
        lambda conn: Sites(conn).add_person(OTHER_SITE.id, MANAGER.id, t.site_managers)
    )
    services.webhook_allow_private = True
    url = closed_port_url()
    await create_webhook(services, MANAGER, "site-1", url, ["request.submitted"])
    waiting = await request_usage(
        services, UDO, "ch-1", clock.now + timedelta(hours=1), timedelta(hours=3)
    )
    assert waiting.request is not None
    worker = WebhookWorker(allow_private=True)
    try:
        await worker.tick(services)  # its post finds nobody listening
    finally:
        await worker.aclose()

    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    manager.find("Webhooks").click()
    await manager.should_see(marker="no-webhooks", retries=SLOW)  # Hillside Garage: none
    [site] = manager.find(marker="site").elements
    site.value = "site-1"  # Riverside Depot, as picking it in the list does
    await manager.should_see(url, retries=SLOW)
    await eventually(lambda: len(rows(manager)) == 1)
    [row] = rows(manager)
    assert row["event"] == "request.submitted"
    assert row["request"] == waiting.request.id
    assert row["status"] == "waiting to be sent"  # to be retried
    assert row["attempts"] >= 1
    assert row["answer"].startswith("no answer: ")

import asyncio
from typing import Any

from nicegui import Client

from app.services.container import Services
from app.services.events import InProcessBus
from tests.ui.conftest import SLOW, Person, sign_in


async def test_a_page_listens_while_it_is_open_and_stops_when_it_is_gone(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, InProcessBus)
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.should_see("Waiting for a manager: 0", retries=SLOW)
    assert bus.topics() == {"site:site-1"}

    for page in list(Client.instances.values()):
        page.delete()
    for _ in range(10):
        await asyncio.sleep(0)
    assert bus.topics() == set()

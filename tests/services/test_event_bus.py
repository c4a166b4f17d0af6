"""The event bus contract: `subscribe` is an async context manager, as every caller uses it."""

import asyncio
from pathlib import Path

from mypy import api

from app.domain.events import UsageRequestChanged
from app.services.events import InProcessBus

ROOT = Path(__file__).resolve().parents[2]

# How the subscriptions use any bus: checked against the EventBus protocol by mypy.
USE = """
import asyncio
from app.services.events import Event, EventBus, InProcessBus

bus: EventBus = InProcessBus()

async def listen(bus: EventBus) -> Event:
    async with bus.subscribe(["site:1"]) as events:
        queue: asyncio.Queue[Event] = events
        return await queue.get()
"""


def test_the_protocol_declares_subscribe_as_its_callers_use_it() -> None:
    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", "-c", USE]
    )
    assert status == 0, out + err


async def test_a_subscriber_gets_its_topics_until_it_leaves() -> None:
    bus = InProcessBus()
    event = UsageRequestChanged("7", "site-1", "ch-1", "u1", "APPROVED")
    async with bus.subscribe(["site:site-1"]) as events:
        assert bus.topics() == {"site:site-1"}
        await bus.publish(event)
        assert await asyncio.wait_for(events.get(), 1) == event
    assert bus.topics() == set()
    await bus.publish(event)  # nobody listens: delivered nowhere, and no error

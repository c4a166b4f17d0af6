"""One read per event per process, however many subscribers wait for it.

Events carry ids only. When each of 1,000 approval-queue subscribers reloaded the request
for itself, one event cost 1,000 reads (p99 ~750 ms from the driver's response to the
last manager's message). `load(services, event)` reads the request, its site's managers,
its device and its permit once, however many subscribers ask at the same time; each
subscriber then asks the `Loaded` in memory whether its person may see it, by the rule a
query applies (`queries.sees`), so a manager removed from the site meanwhile sees nothing.

`POWERPERMIT_FANOUT=per-subscriber` restores the old cost (each subscriber reads for itself,
and shares nothing); it exists so bench/fanout.py can measure before and after in one run.
"""

import asyncio
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy.engine import Connection

from app.domain.model import Device, Permit, UsageRequest, User
from app.services.access import is_among_managers
from app.services.container import Services
from app.services.events import Event
from app.services.queries import sees
from app.store.database import Database
from app.store.permits import Permits
from app.store.repositories import Devices, Sites
from app.store.requests import UsageRequests

PER_SUBSCRIBER = os.environ.get("POWERPERMIT_FANOUT") == "per-subscriber"
# `per-operation`: one read per event, but each subscription runs its own result stream
# (no broadcast groups, app/schema/broadcast.py); also for bench/fanout.py's comparison.
BROADCAST = os.environ.get("POWERPERMIT_FANOUT") not in ("per-subscriber", "per-operation")
# Loads kept after they finish: a subscriber still busy with an earlier event asks for
# this one a little later and must find it, not read again.
KEEP = 256

Visibility = Literal["driver", "manager"]
_Key = tuple[str, Hashable]
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Loaded:
    """A request as it stood right after one event, with what visibility checks need."""

    request: UsageRequest
    site_manager_ids: frozenset[str]
    device: Device | None
    permit: Permit | None
    # What the layers above derive from this load (a converted type, per visibility),
    # made once and kept exactly as long as the load is.
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    def visibility(self, user: User) -> Visibility | None:
        """Why `user` may see the request (a manager of its site, its driver), or None.

        Subscribers with the same visibility may share what is made from this load."""
        if not sees(user, self.request, self.site_manager_ids):
            return None
        return "manager" if is_among_managers(user, self.site_manager_ids) else "driver"

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        if key not in self._derived:
            self._derived[key] = make()
        result: T = self._derived[key]
        return result


class EventLoads:
    """The loads of one process's recent events, each started by its first asker."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        # By event (see _key); the event is kept beside its load so its id() is not reused.
        self._recent: OrderedDict[_Key, tuple[Event, asyncio.Task[Loaded | None]]] = OrderedDict()
        self.reads = 0  # how many times the store was read: tests count it

    async def load(self, services: Services, event: Event) -> Loaded | None:
        """The request of `event` as it is now, or None when it no longer exists."""
        if PER_SUBSCRIBER:
            return await self._read(services, event.request_id)
        key = _key(event)
        entry = self._recent.get(key)
        if entry is None or (key[0] == "object" and entry[0] is not event):
            task = asyncio.ensure_future(self._read(services, event.request_id))
            entry = self._recent[key] = (event, task)
            while len(self._recent) > self._keep:
                self._recent.popitem(last=False)
        if entry[1].done() and not entry[1].cancelled() and entry[1].exception() is None:
            return entry[1].result()  # the common case: someone else read it already
        try:
            # Shielded: one subscriber leaving must not cancel the read the others await.
            return await asyncio.shield(entry[1])
        except asyncio.CancelledError:
            raise
        except Exception:
            if self._recent.get(key) is entry:
                del self._recent[key]  # a failed read is not remembered
            raise

    async def _read(self, services: Services, request_id: str) -> Loaded | None:
        self.reads += 1
        return await services.db.read(lambda conn: read_loaded(conn, request_id))


def _key(event: Event) -> _Key:
    """An event's id when it has one (it came through the outbox, and a copy may arrive
    twice); else the object itself, which the bus hands to every subscriber here."""
    event_id = getattr(event, "id", "")
    return ("id", event_id) if event_id else ("object", id(event))


def read_loaded(conn: Connection, request_id: str) -> Loaded | None:
    request = UsageRequests(conn).get(request_id)
    if request is None:
        return None
    permits = Permits(conn).many([request.permit_id]) if request.permit_id else {}
    return Loaded(
        request,
        Sites(conn).managers_of(request.site_id),
        Devices(conn).get(request.device_id),
        permits.get(request.permit_id) if request.permit_id else None,
    )


# One EventLoads per database, i.e. per process's services; weak, so tests that build
# many services do not keep them alive.
_loads: "weakref.WeakKeyDictionary[Database, EventLoads]" = weakref.WeakKeyDictionary()


def loads_of(services: Services) -> EventLoads:
    loads = _loads.get(services.db)
    if loads is None:
        loads = _loads[services.db] = EventLoads()
    return loads


async def load(services: Services, event: Event) -> Loaded | None:
    """The request of `event`, read once in this process whoever asks."""
    return await loads_of(services).load(services, event)


async def visible(services: Services, user: User, events: Iterable[Event]) -> list[Loaded]:
    """The requests of `events` that `user` may see now, each read once in this process
    (a burst naming one request twice gives it once, as it is now)."""
    seen: dict[str, Loaded] = {}
    for event in events:
        loaded = await load(services, event)
        if loaded is not None and loaded.visibility(user) is not None:
            seen.pop(loaded.request.id, None)
            seen[loaded.request.id] = loaded  # the newest read of a request wins
    return list(seen.values())

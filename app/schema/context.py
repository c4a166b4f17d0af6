"""The per-request GraphQL context: who is asking, the services, fresh DataLoaders."""

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from app.domain.model import Device, Permit, User
from app.services.container import Services
from app.services.devices import load_devices
from app.services.queries import load_permits_by_id


@dataclass
class Context:
    services: Services
    user: User | None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    introspection: bool = True  # False in production (app/schema/introspection.py)
    device_loader: DataLoader[str, Device | None] = field(init=False)
    permit_loader: DataLoader[str, Permit | None] = field(init=False)

    def __post_init__(self) -> None:
        services = self.services

        async def devices(ids: list[str]) -> list[Device | None]:
            return await load_devices(services, ids)

        async def permits(ids: list[str]) -> list[Permit | None]:
            return await load_permits_by_id(services, ids)

        self.device_loader = DataLoader(load_fn=devices)
        self.permit_loader = DataLoader(load_fn=permits)

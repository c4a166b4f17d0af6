"""Publishing request changes on the bus, after the transaction has committed."""

from app.domain.events import UsageRequestChanged
from app.domain.model import UsageRequest
from app.services.container import Services


async def publish(services: Services, request: UsageRequest) -> None:
    await services.bus.publish(
        UsageRequestChanged(
            request.id, request.site_id, request.device_id, request.user_id, request.status.value
        )
    )

"""Events the services publish after a commit; subscribers reload what they need by id."""

from dataclasses import dataclass


@dataclass(frozen=True)
class UsageRequestChanged:
    request_id: str
    site_id: str
    device_id: str
    user_id: str
    status: str
    # Set when the event went through the outbox: `id` lets a bus drop the duplicates that
    # at-least-once publishing makes; `sequence` (the outbox row) says where to catch up from.
    id: str = ""
    sequence: int = 0

    @property
    def topics(self) -> tuple[str, ...]:
        return (f"request:{self.request_id}", f"site:{self.site_id}")

"""Events the services publish after a commit; subscribers reload what they need by id."""

from dataclasses import dataclass


@dataclass(frozen=True)
class UsageRequestChanged:
    request_id: str
    site_id: str
    device_id: str
    user_id: str
    status: str

    @property
    def topics(self) -> tuple[str, ...]:
        return (f"request:{self.request_id}", f"site:{self.site_id}")

"""The simulated vehicle battery on the other side of the relay."""

import math
from dataclasses import dataclass
from typing import Any

from device.protocol.errors import Malformed

FULL_EPSILON_WH = 1e-6


@dataclass
class Battery:
    capacity_wh: float
    energy_wh: float
    max_power_w: float

    def __post_init__(self) -> None:
        values = (self.capacity_wh, self.energy_wh, self.max_power_w)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("battery figures must be finite")
        if not self.capacity_wh > 0 or not self.max_power_w > 0:
            raise ValueError("capacity and maximum power must be positive")
        if not 0 <= self.energy_wh <= self.capacity_wh:
            raise ValueError("stored energy must lie between 0 and the capacity")

    @property
    def soc(self) -> float:
        """State of charge, 0..1."""
        return self.energy_wh / self.capacity_wh

    @property
    def room_wh(self) -> float:
        return self.capacity_wh - self.energy_wh

    @property
    def full(self) -> bool:
        return self.room_wh <= FULL_EPSILON_WH

    def charge(self, power_w: float, seconds: float, *, limit_wh: float = float("inf")) -> float:
        """Integrate `power_w` over `seconds`; the energy taken, capped by room and limit."""
        wanted = min(power_w, self.max_power_w) * max(0.0, seconds) / 3600.0
        taken = max(0.0, min(wanted, self.room_wh, limit_wh))
        self.energy_wh = min(self.capacity_wh, self.energy_wh + taken)
        return taken

    def to_json(self) -> dict[str, float]:
        return {
            "capacity_wh": self.capacity_wh,
            "energy_wh": self.energy_wh,
            "max_power_w": self.max_power_w,
            "soc": round(self.soc, 4),
        }

    @classmethod
    def from_json(cls, data: Any) -> "Battery":
        """A vehicle described by the local link: capacity, SoC (0..1) or energy, max power."""
        if not isinstance(data, dict):
            raise Malformed("vehicle must be a JSON object")
        try:
            capacity = float(data.get("capacity_wh", 60_000))
            max_power = float(data.get("max_power_w", 11_000))
            if "energy_wh" in data:
                energy = float(data["energy_wh"])
            else:
                energy = float(data.get("soc", 0.2)) * capacity
            return cls(capacity, energy, max_power)
        except (TypeError, ValueError) as err:
            raise Malformed(f"bad vehicle description: {err}") from err

"""Clocks the device reads, and the trusted-time rule that keeps time from going backwards.

A clock gives two readings: `wall()` (seconds since the epoch, which anyone with access to
the device may set wrong) and `monotonic()` (seconds since some start, never set back).
Trusted time is the maximum of the wall clock, the last trusted time plus the monotonic time
elapsed since (so it keeps moving while the wall clock is wrong), and the newest `iat` the
device verified. After a restart there is no monotonic continuity: the persisted value is the
floor, exactly the DESIGN.md rule.
"""

import math
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def wall(self) -> float: ...

    def monotonic(self) -> float: ...


class RealClock:
    """The host's clocks."""

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class SimClock:
    """Simulated time running `speed` times faster than real time, from `start`."""

    def __init__(self, start: float, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start
        self._speed = speed
        self._real0 = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self._speed

    def wall(self) -> float:
        return self._start + self.monotonic()


class ManualClock:
    """A clock tests move by hand: `advance` moves both readings, `set_wall` only the wall."""

    def __init__(self, start: float) -> None:
        self._wall = start
        self._mono = 0.0
        self._lock = threading.Lock()

    def wall(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("monotonic time only moves forward; use set_wall")
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def set_wall(self, wall: float) -> None:
        with self._lock:
            self._wall = wall


class OffsetClock:
    """Another clock moved ahead by the seconds written in a local file, so a test or a demo
    can make a window end now (`powerpermit-device run --clock-offset-file PATH`).

    Off unless that option names a file; only someone who can write files on the charger
    can set it, as they could set its wall clock, and nothing on the local link can. The
    file holds one number of seconds, re-read whenever it changes; no file leaves the offset
    as it was (0 at first), and a value that is not a finite number or would move time back
    is ignored."""

    def __init__(self, inner: Clock, path: Path) -> None:
        self._inner, self._path = inner, path
        self._seen: tuple[int, int] | None = None
        self._offset = 0.0
        self._lock = threading.Lock()

    def wall(self) -> float:
        return self._inner.wall() + self.offset()

    def monotonic(self) -> float:
        return self._inner.monotonic() + self.offset()

    def offset(self) -> float:
        try:
            status = self._path.stat()
        except OSError:
            return self._offset
        seen = (status.st_mtime_ns, status.st_size)
        with self._lock:
            if seen != self._seen:
                self._seen = seen
                try:
                    value = float(self._path.read_text(encoding="ascii").strip() or "0")
                except (OSError, ValueError, UnicodeDecodeError):
                    value = self._offset
                if math.isfinite(value) and value >= self._offset:
                    self._offset = value
            return self._offset


class TrustedTime:
    """Trusted time: never backwards, however the wall clock is set."""

    def __init__(self, clock: Clock, floor: float) -> None:
        self._clock = clock
        self._value = max(floor, clock.wall())
        self._mono = clock.monotonic()

    def now(self, wall: float | None = None) -> float:
        """Advance and return trusted time; `wall` overrides the clock's wall reading."""
        mono = self._clock.monotonic()
        elapsed = max(0.0, mono - self._mono)
        self._mono = mono
        reading = self._clock.wall() if wall is None else wall
        self._value = max(reading, self._value + elapsed)
        return self._value

    def peek(self, wall: float | None = None) -> float:
        """What `now` would return, without advancing."""
        elapsed = max(0.0, self._clock.monotonic() - self._mono)
        reading = self._clock.wall() if wall is None else wall
        return max(reading, self._value + elapsed)

    def raise_to(self, floor: float) -> None:
        """A verified `iat`: the server says it is at least this late."""
        self._value = max(self._value, floor)


def iso(t: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC, whole seconds, `Z` suffix."""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """ISO 8601 to seconds since the epoch; a time without an offset is read as UTC."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()

"""`powerpermit-device run`: the local link in a thread, the tick loop in the main thread.

The state directory is locked while the charger runs (`run.lock`, which also holds the local
link's URL so `scan` can hand a permit to the running device instead of racing it).
"""

import fcntl
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from device.clock import Clock, OffsetClock, RealClock, SimClock
from device.config import DeviceConfig, StateError
from device.link import LinkServer
from device.runtime import Charger
from device.state import Store

LOCK_NAME = "run.lock"


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


@contextmanager
def state_lock(state_dir: Path) -> Iterator[int]:
    """Hold the state directory exclusively; raises StateError when a charger runs on it."""
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise StateError(f"a charger is already running on {state_dir}") from err
        yield fd
    finally:
        os.close(fd)


def running_url(state_dir: Path) -> str | None:
    """The local link URL of a charger running on `state_dir`, or None if none runs."""
    try:
        with state_lock(state_dir):
            return None
    except StateError:
        text = (state_dir / LOCK_NAME).read_text(encoding="utf-8").strip()
        return text or None


def run(
    config: DeviceConfig,
    *,
    host: str,
    port: int,
    clock_kind: str,
    speed: float,
    clock_offset_file: Path | None = None,
    origins: tuple[str, ...] = (),
    link_hosts: tuple[str, ...] = (),
    tick_s: float = 0.5,
) -> int:
    """Run until SIGTERM/SIGINT. `origins` and `link_hosts` add to the configured ones."""
    with state_lock(config.state_dir) as fd:
        store = Store(config.db_path)
        clock: Clock = RealClock()
        if clock_kind == "sim":
            start = max(time.time(), float(store.get("trusted_time", 0.0)))
            clock = SimClock(start, speed)
        if clock_offset_file is not None:  # tests and demos only: see OffsetClock
            clock = OffsetClock(clock, clock_offset_file)
        charger = Charger(config, store, clock, emit)
        server = LinkServer(
            charger,
            host,
            port,
            allowed_origins=config.allowed_origins + origins,
            link_hosts=config.link_hosts + link_hosts,
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, server.url.encode("ascii"), 0)
        stopping = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        thread = threading.Thread(target=server.serve_forever, name="link", daemon=True)
        thread.start()
        emit({"event": "listening", "url": server.url, "device_id": config.device_id})
        try:
            while not stopping.wait(tick_s):
                charger.tick()
        finally:
            server.shutdown()
            server.server_close()
            charger.tick()
            store.close()
            emit({"event": "shutdown"})
            os.ftruncate(fd, 0)
    return 0

"""The keyring directory on its own: concurrent operators, and a ring the server can trust."""

import threading
from datetime import UTC, datetime
from pathlib import Path

from app.services.keyring import KeyDirectory, LiveKeyring

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_operators_rotating_at_once_each_get_their_key(tmp_path: Path) -> None:
    directory = KeyDirectory(tmp_path / "keys")
    follower = LiveKeyring(directory)  # a server process, watching
    start = threading.Barrier(4)

    def rotate() -> None:
        start.wait()
        directory.rotate(NOW)

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ring = directory.load()
    assert ring.sequence == 4 and len(ring.entries) == 5  # none lost, none twice
    assert len({e.kid for e in ring.entries}) == 5
    assert [e.retired is None for e in ring.entries] == [False] * 4 + [True]
    assert ring.current_kid == ring.entries[-1].kid
    assert follower.get().current_kid == ring.current_kid
    leftovers = [p.name for p in (tmp_path / "keys").iterdir() if p.name.startswith(".new-")]
    assert leftovers == []

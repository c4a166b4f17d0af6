"""A real server per test module: `powerpermit migrate`, `seed-demo --json`, `serve`.

Module scope: each module gets a fresh data directory, so the demo drivers' open-request
limits and booked slots do not leak from one module into another.
"""

from collections.abc import Iterator

import pytest

from tests.http.live import LiveServer, demo_server


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with demo_server(tmp_path_factory.mktemp("powerpermit-http")) as server:
        yield server

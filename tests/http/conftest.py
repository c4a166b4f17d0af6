"""A real server per test module: `powerpermit migrate`, `seed-demo --json`, `serve`.

Module scope: each module gets a fresh data directory, so the demo drivers' open-request
limits and booked slots do not leak from one module into another.
"""

from collections.abc import Iterator

import pytest

from tests.http.live import LiveServer, ServerProcess, free_port, prepare


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("powerpermit-http")
    summary = prepare(data_dir)
    port = free_port()
    server = ServerProcess(data_dir, port, data_dir / "server.log")
    server.start()
    try:
        yield LiveServer(
            base_url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}/graphql",
            tokens={key: summary[key]["token"] for key in ("manager", "user", "user2")},
            devices=summary["devices"],
            site=summary["site"],
            data_dir=data_dir,
        )
    finally:
        server.stop()

"""Two real `powerpermit serve` processes on one data directory, and `powerpermit keys rotate`
run beside them: the very next permit from either process carries the new kid, and both
publish both keys, without a restart or a signal."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from device.protocol.cose import decode_sign1
from device.protocol.keys import b64url, b64url_decode
from tests.http.live import (
    ROOT,
    LiveServer,
    ServerProcess,
    free_port,
    powerpermit,
    prepare,
    request_usage,
    server_env,
    soon,
)


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    summary = prepare(tmp_path)
    processes = [ServerProcess(tmp_path, free_port(), tmp_path / f"server-{n}.log") for n in "ab"]
    try:
        for process in processes:
            process.start()
        yield tuple(  # type: ignore[misc]
            LiveServer(
                base_url=process.url(""),
                ws_url=process.url("").replace("http", "ws"),
                tokens={k: summary[k]["token"] for k in ("manager", "user", "user2")},
                devices=summary["devices"],
                site=summary["site"],
                data_dir=tmp_path,
            )
            for process in processes
        )
    finally:
        for process in processes:
            process.stop()


def kid(permit: dict[str, str]) -> str:
    message = decode_sign1(b64url_decode(permit["token"]), max_size=1024)
    assert message.kid is not None
    return b64url(message.kid)


def published(server: LiveServer) -> list[str]:
    keys = httpx.get(f"{server.base_url}/.well-known/permit-keys", timeout=10).json()["keys"]
    return [jwk["kid"] for jwk in keys]


async def test_every_process_signs_with_the_new_key_right_after_a_rotation(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    async with httpx.AsyncClient(timeout=30) as client:
        before = await request_usage(client, a, "user", "ch-1", soon(1), 30)
        [old] = published(a)
        assert kid(before["permit"]) == old

        rotated = subprocess.run(
            powerpermit("keys", "rotate", "--json"),
            cwd=ROOT,
            env=server_env(a.data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rotated.returncode == 0, rotated.stderr
        new = next(k for k in published(b) if k != old)

        for server, who, device in ((a, "user", "ch-2"), (b, "user2", "ch-3")):
            after = await request_usage(client, server, who, device, soon(2), 30)
            assert kid(after["permit"]) == new, server.base_url
            assert published(server) == [old, new]  # the old key's permits still verify

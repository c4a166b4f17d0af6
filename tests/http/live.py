"""A real `powerpermit serve` process on loopback, and a small GraphQL-over-HTTP client."""

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    ws_url: str
    tokens: dict[str, str]  # "manager" | "user" | "user2" -> bearer token
    devices: list[dict[str, str]]
    site: dict[str, str]
    data_dir: Path

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["POWERPERMIT_DATA_DIR"] = str(data_dir)
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{data_dir / 'powerpermit.db'}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def powerpermit(*args: str) -> list[str]:
    """The CLI through the interpreter running the tests (the project's venv)."""
    return [sys.executable, "-m", "app.cli", *args]


def prepare(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`powerpermit migrate` then `powerpermit seed-demo --json` (in `env`, by default
    server_env's); returns the seed summary."""
    env = env or server_env(data_dir)
    for args in (("migrate",), ("seed-demo", "--json")):
        done = subprocess.run(
            powerpermit(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"powerpermit {' '.join(args)} failed:\n{done.stderr}")
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


class ServerProcess:
    """`powerpermit serve` as a child process, stopped (and reaped) on exit."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        log_path: Path,
        env: dict[str, str] | None = None,
        serve_args: tuple[str, ...] = (),
    ) -> None:
        """`env` (by default server_env's) for a database, bus or fault hook of its own;
        `serve_args` added to `powerpermit serve`'s."""
        self.data_dir, self.port, self.log_path = data_dir, port, log_path
        self.env, self.serve_args = env, serve_args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            powerpermit("serve", "--host", "127.0.0.1", "--port", str(self.port), *self.serve_args),
            cwd=ROOT,
            env=self.env or server_env(self.data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child holds its own descriptor
        self.wait_healthy()

    def wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not healthy after {STARTUP_TIMEOUT_S}s:\n{self.log()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def demo_server(data_dir: Path, serve_args: tuple[str, ...] = ()) -> Iterator[LiveServer]:
    """The demo site migrated and seeded in `data_dir`, served on a free port while inside."""
    summary = prepare(data_dir)
    port = free_port()
    server = ServerProcess(data_dir, port, data_dir / "server.log", serve_args=serve_args)
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


def slot_start(days: int, hour: int = 10) -> datetime:
    """A whole-minute UTC start `days` ahead (inside the demo's 14-day horizon)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days, hours=hour)


def soon(hours: int = 2) -> datetime:
    """A whole-minute UTC start `hours` ahead: inside the permit lead (24 h), so an approval
    comes with its permit."""
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


async def gql(
    client: httpx.AsyncClient,
    server: LiveServer,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    who: str | None = None,
) -> dict[str, Any]:
    """POST one operation; asserts HTTP 200 and no GraphQL errors; returns `data`."""
    headers = server.headers(who) if who else {}
    response = await client.post(
        server.graphql_url, json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


async def request_usage(
    client: httpx.AsyncClient,
    server: LiveServer,
    who: str,
    device_id: str,
    starts_at: datetime,
    minutes: int,
) -> dict[str, Any]:
    variables = {
        "input": {
            "deviceId": device_id,
            "startsAt": starts_at.isoformat(),
            "durationMinutes": minutes,
        }
    }
    result: dict[str, Any] = (await gql(client, server, REQUEST_USAGE, variables, who=who))[
        "requestUsage"
    ]
    return result


REQUEST_USAGE = """
mutation Ask($input: RequestUsageInput!) {
  requestUsage(input: $input) {
    __typename
    ... on UsageRequest {
      id status startsAt endsAt
      device { id name }
      decision { outcome reasons { code message } }
      permit { id token qrText notBefore expiresAt }
    }
    ... on RequestDenied { reasons { code message } }
  }
}
"""


class GraphQLSocket:
    """A minimal graphql-transport-ws client over `websockets`."""

    PROTOCOL = "graphql-transport-ws"

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._ids = 0

    async def init(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Send connection_init; returns the server's answer (connection_ack when accepted)."""
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        op_id = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})
        return op_id

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next message other than ping/pong (pings are answered)."""
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            if message.get("type") != "pong":
                return message

"""A request id ties what a user saw to the server's log: the `X-Request-ID` response
header, `extensions.requestId` on each GraphQL error, and the `request_id` of the JSON
log lines written while serving it. A real `powerpermit serve` (JSON logs by default)."""

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.http.live import GraphQLSocket, LiveServer, ServerProcess, free_port

GENERATED = re.compile(r"[0-9a-f]{16}")


def log_lines(server: LiveServer) -> list[dict[str, Any]]:
    """Every line the server wrote; each must be one JSON object."""
    text = (server.data_dir / "server.log").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def lines_of(server: LiveServer, rid: str) -> list[dict[str, Any]]:
    """The lines of one request; the access line is written as its response ends."""
    for _ in range(50):
        found = [line for line in log_lines(server) if line.get("request_id") == rid]
        if found:
            return found
        time.sleep(0.05)
    return []


async def test_an_error_names_the_request_id_of_its_header_and_log_line(
    live_server: LiveServer,
) -> None:
    rid = "trace-42.checkout"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            live_server.graphql_url,
            json={"query": "{ noSuchField }"},
            headers={"X-Request-ID": rid},
        )
    assert response.headers["x-request-id"] == rid
    errors = response.json()["errors"]
    assert errors and all(error["extensions"]["requestId"] == rid for error in errors)

    lines = lines_of(live_server, rid)
    access = [line for line in lines if line["logger"] == "powerpermit.access"]
    assert access, lines
    assert access[0]["path"] == "/graphql" and access[0]["method"] == "POST"
    assert access[0]["status"] == response.status_code
    assert {"time", "level", "message"} <= set(access[0])


async def test_a_request_without_an_id_gets_one(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            live_server.graphql_url,
            json={"query": "mutation { approveUsageRequest }"},
        )
    rid = response.headers["x-request-id"]
    assert GENERATED.fullmatch(rid)
    assert response.json()["errors"][0]["extensions"]["requestId"] == rid
    assert lines_of(live_server, rid)


async def test_a_websocket_error_names_the_id_of_its_upgrade_request(
    live_server: LiveServer,
) -> None:
    async with connect(
        live_server.ws_url,
        subprotocols=[GraphQLSocket.PROTOCOL],
        additional_headers={"X-Request-ID": "ws-7"},
        open_timeout=10,
    ) as connection:
        assert connection.response.headers["x-request-id"] == "ws-7"
        socket = GraphQLSocket(connection)
        ack = await socket.init({"Authorization": f"Bearer {live_server.tokens['user']}"})
        assert ack["type"] == "connection_ack"
        for _ in range(2):  # the second answer comes from the document cache
            op_id = await socket.subscribe("subscription { noSuchField }")
            message = await socket.receive()
            assert message["type"] == "error" and message["id"] == op_id, message
            assert [e["extensions"]["requestId"] for e in message["payload"]] == ["ws-7"]
    assert lines_of(live_server, "ws-7")  # the socket's access line, when it closed


HOSTILE = [
    "x" * 65,  # too long to keep in every log line
    "<script>alert(1)</script>",
    "two words",
    'quote"inside',
    "",
]


async def test_a_hostile_request_id_is_replaced(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for hostile in HOSTILE:
            response = await client.post(
                live_server.graphql_url,
                json={"query": "{ noSuchField }"},
                headers={"X-Request-ID": hostile},
            )
            rid = response.headers["x-request-id"]
            assert rid != hostile and GENERATED.fullmatch(rid), (hostile, rid)
            assert response.json()["errors"][0]["extensions"]["requestId"] == rid
            assert lines_of(live_server, rid)
    log = (live_server.data_dir / "server.log").read_text()
    for hostile in HOSTILE[:-1]:
        assert hostile not in log


async def test_every_line_of_the_log_is_json(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{live_server.base_url}/healthz")).status_code == 200
    lines = log_lines(live_server)
    assert lines  # start-up lines too, uvicorn's included
    assert any(line["logger"].startswith("uvicorn") for line in lines)


async def test_an_unexpected_failure_shows_no_internals_but_its_request_id(
    tmp_path: Path,
) -> None:
    """A store nobody migrated: signing in fails inside the server. The client reads
    'Unexpected error.' and the request id; the SQL, the driver, the stack and the paths
    are only in that request's log line."""
    server = ServerProcess(tmp_path, free_port(), tmp_path / "server.log")
    server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                server.url("/graphql"),
                json={"query": 'mutation { login(login: "a", password: "b") { __typename } }'},
                headers={"X-Request-ID": "crash-1"},
            )
            ready = await client.get(server.url("/readyz"))
    finally:
        server.stop()
    assert response.headers["x-request-id"] == "crash-1"
    errors = response.json()["errors"]
    assert [e["message"] for e in errors] == ["Unexpected error."]
    assert errors[0]["extensions"] == {"requestId": "crash-1"}
    for internal in ("Traceback", "sqlite", "SELECT", "no such table", ".py", str(tmp_path)):
        assert internal not in response.text
    assert ready.status_code == 503 and "migrations" in ready.json()["failed"]

    logged = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    crash = [line for line in logged if line.get("request_id") == "crash-1" and "exception" in line]
    assert crash and "no such table" in crash[0]["exception"]

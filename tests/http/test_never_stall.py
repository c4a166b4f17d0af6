"""Abusive requests against a real server: refused with their code, and the server keeps
answering everyone else meanwhile. Deadlines here only guard against hangs."""

import asyncio
import json

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.schema.limits import MAX_BODY_BYTES
from tests.http.live import GraphQLSocket, LiveServer
from tests.schema.abusive_documents import fragment_bomb

HANG_GUARD_S = 10.0


async def test_healthz_answers_while_fragment_bombs_are_sent(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=HANG_GUARD_S) as client:
        bombs = [
            client.post(live_server.graphql_url, json={"query": fragment_bomb()}) for _ in range(4)
        ]
        health = client.get(f"{live_server.base_url}/healthz")
        *answers, healthy = await asyncio.gather(*bombs, health)
    assert healthy.status_code == 200
    for answer in answers:
        assert answer.json()["errors"][0]["extensions"]["code"] == "TOO_COMPLEX", answer.text


async def test_an_oversized_body_is_refused_before_it_is_sent(live_server: LiveServer) -> None:
    """The server answers 413 from the headers, without waiting for 100 MB that never come."""
    port = int(live_server.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n" + b'{"query": "'
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HANG_GUARD_S)
        assert head.startswith(b"HTTP/1.1 413"), head
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        body = json.loads(await asyncio.wait_for(reader.readexactly(length), HANG_GUARD_S))
        assert body["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    finally:
        writer.close()


async def signed_in_socket(connection: object, server: LiveServer) -> GraphQLSocket:
    socket = GraphQLSocket(connection)
    ack = await socket.init({"Authorization": f"Bearer {server.tokens['user']}"})
    assert ack["type"] == "connection_ack", ack
    return socket


async def test_websocket_operations_get_the_same_document_checks(
    live_server: LiveServer,
) -> None:
    async with connect(
        live_server.ws_url, subprotocols=[GraphQLSocket.PROTOCOL], open_timeout=HANG_GUARD_S
    ) as connection:
        socket = await signed_in_socket(connection, live_server)
        op_id = await socket.subscribe(fragment_bomb())
        message = await socket.receive(HANG_GUARD_S)
        assert message["id"] == op_id and message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "TOO_COMPLEX"


async def test_an_oversized_websocket_message_closes_the_socket(live_server: LiveServer) -> None:
    async with connect(
        live_server.ws_url,
        subprotocols=[GraphQLSocket.PROTOCOL],
        open_timeout=HANG_GUARD_S,
        max_size=None,
    ) as connection:
        socket = await signed_in_socket(connection, live_server)
        await socket.subscribe("{ __typename }" + " " * MAX_BODY_BYTES)
        try:
            message = await socket.receive(HANG_GUARD_S)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1009, closed
        else:
            raise AssertionError(f"the socket stayed open: {message}")

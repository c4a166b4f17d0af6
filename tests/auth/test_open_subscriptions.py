"""An open subscription ends when its access does: a revoked access token, a disabled
user. The socket was let in while the token was good; without a check after
`connection_init` it would go on hearing the site's events for as long as it stayed open."""

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.auth.live_oauth import OAuthStack, start_stack
from tests.http.live import GraphQLSocket, powerpermit

APPROVAL_QUEUE = "subscription { approvalQueue { id status } }"
MY_REQUEST = "subscription ($id: ID!) { usageRequestUpdated(id: $id) { id status } }"
LOGIN = """
mutation ($login: String!, $password: String!) {
  login(login: $login, password: $password) { __typename ... on Session { token } }
}
"""
# The server checks open sockets once a second; the withdrawal of another process reaches
# it within half a second more. Time enough for both on a loaded machine:
CLOSED_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthStack]:
    started = start_stack(tmp_path_factory.mktemp("open-subscriptions"))
    try:
        yield started
    finally:
        started.server.stop()


async def closed_with(socket: GraphQLSocket) -> tuple[int, float]:
    """The close code the server sent, and how long it took to come."""
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await socket.receive(timeout=CLOSED_WITHIN_S)
    assert closed.value.rcvd is not None, "the server never closed the socket"
    return closed.value.rcvd.code, time.monotonic() - started


async def test_a_revoked_access_token_ends_its_open_subscription(stack: OAuthStack) -> None:
    auth = (stack.machine["client_id"], stack.machine["client_secret"])
    answer = httpx.post(
        stack.url("/oauth/token"), data={"grant_type": "client_credentials"}, auth=auth
    )
    token = answer.json()["access_token"]
    ws_url = stack.base_url.replace("http", "ws") + "/graphql"
    async with connect(ws_url, subprotocols=[GraphQLSocket.PROTOCOL]) as connection:
        socket = GraphQLSocket(connection)
        assert (await socket.init({"Authorization": f"Bearer {token}"}))["type"] == (
            "connection_ack"
        )
        await socket.subscribe(APPROVAL_QUEUE)
        revoked = httpx.post(stack.url("/oauth/revoke"), data={"token": token}, auth=auth)
        assert revoked.status_code == 200
        code, took = await closed_with(socket)
    assert code == 4403
    assert took < CLOSED_WITHIN_S


async def test_disabling_a_user_ends_their_open_subscription(stack: OAuthStack) -> None:
    """`powerpermit user disable` in a process of its own: the server hears of it through
    the store and closes the disabled driver's socket; another driver's stays open."""
    tokens = {login: new_driver(stack, login) for login in ("dee", "eve")}
    ws_url = stack.base_url.replace("http", "ws") + "/graphql"
    async with (
        connect(ws_url, subprotocols=[GraphQLSocket.PROTOCOL]) as dee_connection,
        connect(ws_url, subprotocols=[GraphQLSocket.PROTOCOL]) as eve_connection,
    ):
        dee, eve = GraphQLSocket(dee_connection), GraphQLSocket(eve_connection)
        for socket, login in ((dee, "dee"), (eve, "eve")):
            ack = await socket.init({"Authorization": f"Bearer {tokens[login]}"})
            assert ack["type"] == "connection_ack"
        await dee.subscribe(MY_REQUEST, {"id": "1"})
        disabled = stack.cli("user", "disable", "dee")
        assert disabled.returncode == 0, disabled.stderr
        code, took = await closed_with(dee)
        assert code == 4403 and took < CLOSED_WITHIN_S
        await eve.send({"type": "ping"})  # still open: only dee's access ended
        pong = await asyncio.wait_for(eve_connection.recv(), CLOSED_WITHIN_S)
        assert json.loads(pong)["type"] == "pong"


def new_driver(stack: OAuthStack, login: str) -> str:
    """A driver made with the command line, signed in: their login token."""
    password = "a long enough password"
    subprocess.run(
        powerpermit("user", "create", "--login", login, "--name", login.title(),
                    "--role", "driver", "--password-stdin"),
        input=password + "\n", env=stack.env, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    answer = httpx.post(
        stack.url("/graphql"),
        json={"query": LOGIN, "variables": {"login": login, "password": password}},
        timeout=10,
    )
    token: str = answer.json()["data"]["login"]["token"]
    return token

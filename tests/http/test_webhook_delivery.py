"""A webhook receiver the test starts on 127.0.0.1 gets each request event once, verifies
its signature with the verifier docs/webhooks.md gives integrators, and gets the delivery
it first answered 500 again once its back-off has passed; the outcomes show in the
GraphQL `webhooks` query. The server runs in-process with the real webhook worker, ticked
by the test on the services' clock."""

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.services.container import Services
from app.services.webhook_delivery import BACKOFF, WebhookWorker
from device.protocol import SigningKey
from device.protocol.keys import b64url
from device.protocol.receipt import encode_receipt
from tests.conftest import Clock, GraphQLClient, iso
from tests.http.live import ServerProcess, free_port, prepare, server_env, soon
from tests.schema.commissioning import registration
from tests.schema.queries import APPROVE, REQUEST_USAGE
from tests.schema.test_receipts_and_revocation import REGISTER, SUBMIT, receipt_for
from tests.schema.test_request_usage import ask

DOCS = Path(__file__).parents[2] / "docs" / "webhooks.md"
EVENTS = ["request.submitted", "request.decided", "request.revoked", "request.completed"]

CREATE = """
mutation ($site: ID!, $url: String!, $events: [String!]!) {
  createWebhook(siteId: $site, url: $url, events: $events) {
    __typename
    ... on WebhookCreated { secret webhook { id url events } }
    ... on InvalidInput { message }
  }
}
"""
REVOKE_REQUEST = """
mutation ($id: ID!) { revokeUsageRequest(id: $id, reason: "maintenance") { __typename } }
"""
WEBHOOKS = """
query ($site: ID!) {
  webhooks(siteId: $site) {
    __typename
    ... on SiteWebhooks { webhooks { id deliveries {
      eventId eventType requestId status attemptCount lastStatusCode
      attempts { statusCode error durationMs }
    } } }
    ... on NotFound { message }
  }
}
"""


def documented_verifier() -> Callable[..., bool]:
    """The `verify` function of docs/webhooks.md, as an integrator would paste it."""
    text = DOCS.read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, re.S)
    scope: dict[str, Any] = {}
    exec(code, scope)  # noqa: S102 - our own documentation, checked to work as written
    verify: Callable[..., bool] = scope["verify"]
    return verify


@dataclass
class Received:
    status: int
    event_id: str
    signature: str
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers 500 to the first post it gets (unless told not to), 200 to every other, and
    keeps them all."""

    url: str = ""
    refuse_first: bool = True
    posts: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, event_id: str, signature: str, body: bytes) -> int:
        with self.lock:
            status = 500 if self.refuse_first and not self.posts else 200
            self.posts.append(Received(status, event_id, signature, body, time.time()))
            return status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = got.answer(
                self.headers["PowerPermit-Event-Id"], self.headers["PowerPermit-Signature"], body
            )
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no" if status == 500 else b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


async def test_each_event_arrives_once_signed_and_a_refused_one_again_later(
    gql: GraphQLClient,
    tokens: dict[str, str],
    services: Services,
    clock: Clock,
    receiver: Receiver,
) -> None:
    services.webhook_allow_private = True  # POWERPERMIT_WEBHOOK_ALLOW_PRIVATE=1: 127.0.0.1
    worker = services.webhooks = WebhookWorker(allow_private=True)
    variables = {"site": "site-1", "url": receiver.url, "events": EVENTS}
    created = (await gql(CREATE, variables, tokens["manager"]))["data"]["createWebhook"]
    assert created["__typename"] == "WebhookCreated", created
    secret = created["secret"]

    # submitted -> decided -> revoked, and one approved at once -> completed by its receipt
    device_key = SigningKey.generate()
    registered = await gql(REGISTER, registration(device_key), tokens["manager"])
    assert registered["data"]["registerDevice"]["__typename"] == "Device", registered
    waiting = await ask(gql, tokens["user"], clock.now + timedelta(hours=3), 180)
    assert waiting["status"] == "NEEDS_MANAGER"
    await gql(APPROVE, {"id": waiting["id"]}, tokens["manager"])
    revoked = await gql(REVOKE_REQUEST, {"id": waiting["id"]}, tokens["manager"])
    assert revoked["data"]["revokeUsageRequest"]["__typename"] == "UsageRequest"
    at_once = await ask(gql, tokens["user"], clock.now + timedelta(minutes=5), 30)
    assert at_once["status"] == "APPROVED"
    receipt = receipt_for(at_once["permit"], at_once["id"], 1, 2100.0)
    carried = {"tokens": [b64url(encode_receipt(receipt, device_key))]}
    submitted = await gql(SUBMIT, carried, tokens["user"])
    assert submitted["data"]["submitReceipts"][0]["status"] == "ACCEPTED"

    try:
        await worker.tick(services)
        await worker.tick(services)  # nothing is due again yet
        assert len(receiver.posts) == 5
        assert [p.status for p in receiver.posts].count(500) == 1
        clock.advance(BACKOFF[0])
        await worker.tick(services)
        await worker.tick(services)
    finally:
        await worker.aclose()

    verify = documented_verifier()
    assert all(verify(secret, p.signature, p.body) for p in receiver.posts)
    assert not verify("whsec_wrong", receiver.posts[0].signature, receiver.posts[0].body)
    tampered = receiver.posts[0].body.replace(b"site-1", b"site-2")
    assert not verify(secret, receiver.posts[0].signature, tampered)
    old = receiver.posts[0].at + 301  # the same delivery replayed 5 minutes later
    assert not verify(secret, receiver.posts[0].signature, receiver.posts[0].body, now=old)

    accepted = [p for p in receiver.posts if p.status == 200]
    bodies = [json.loads(p.body) for p in accepted]
    assert len({p.event_id for p in accepted}) == len(accepted) == 5  # each once
    assert {(b["request"]["id"], b["type"]) for b in bodies} == {
        (waiting["id"], "request.submitted"),
        (waiting["id"], "request.decided"),
        (waiting["id"], "request.revoked"),
        (at_once["id"], "request.decided"),
        (at_once["id"], "request.completed"),
    }
    assert all(p.event_id == json.loads(p.body)["id"] for p in receiver.posts)
    [refused] = [p for p in receiver.posts if p.status == 500]
    again = [p for p in accepted if p.event_id == refused.event_id]
    assert [p.body for p in again] == [refused.body]  # the same event, retried

    seen = await gql(WEBHOOKS, {"site": "site-1"}, tokens["manager"])
    [hook] = seen["data"]["webhooks"]["webhooks"]
    outcomes = {d["eventId"]: d for d in hook["deliveries"]}
    assert len(outcomes) == 5
    assert all(d["status"] == "delivered" for d in outcomes.values())
    retried = outcomes[refused.event_id]
    assert retried["attemptCount"] == 2
    assert [a["statusCode"] for a in retried["attempts"]] == [500, 200]
    assert retried["attempts"][0]["error"] == "HTTP 500: no"


def test_a_running_server_sends_webhooks_from_its_own_background_task(
    tmp_path: Path, receiver: Receiver
) -> None:
    """`powerpermit serve` starts the worker with the app: an approved ask reaches the
    receiver without anyone ticking anything."""
    receiver.refuse_first = False  # the retry is the test above's, on the services' clock
    env = server_env(tmp_path)
    env["POWERPERMIT_WEBHOOK_ALLOW_PRIVATE"] = "1"
    summary = prepare(tmp_path, env)
    server = ServerProcess(tmp_path, free_port(), tmp_path / "server.log", env)
    server.start()
    try:
        manager = {"Authorization": f"Bearer {summary['manager']['token']}"}
        driver = {"Authorization": f"Bearer {summary['user']['token']}"}
        variables = {"site": "site-1", "url": receiver.url, "events": ["request.decided"]}
        created = httpx.post(
            server.url("/graphql"), json={"query": CREATE, "variables": variables}, headers=manager
        ).json()["data"]["createWebhook"]
        assert created["__typename"] == "WebhookCreated", created
        ask_variables = {"device": "ch-2", "start": iso(soon()), "minutes": 30}
        asked = httpx.post(
            server.url("/graphql"),
            json={"query": REQUEST_USAGE, "variables": ask_variables},
            headers=driver,
        ).json()["data"]["requestUsage"]
        assert asked["status"] == "APPROVED", asked
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not receiver.posts:
            time.sleep(0.05)
        time.sleep(1)  # two more of the worker's ticks: nothing else may come
    finally:
        server.stop()
    [post] = receiver.posts
    assert post.status == 200, server.log()
    assert json.loads(post.body)["request"]["id"] == asked["id"]
    assert documented_verifier()(created["secret"], post.signature, post.body)

"""Who may do what: every operation of the live schema × every kind of principal, one table.

Each cell runs the real operation, with arguments that would do real work, against
objects of site X (site-1) owned by driver A, through the GraphQL endpoint the server
serves, on a fresh copy of one prepared SQLite database, and sorts the answer:

  ALLOW  the operation did its work or showed site X's object;
  DENY   refused by role, site or ownership: a sign-in error, a typed NotAllowed, a
         NotFound or null or a list without the object (site X's things hidden), or a
         websocket refused at connection;
  SCOPE  refused for the access token's scopes (extensions.code INSUFFICIENT_SCOPE).

Any other answer (an input error, an unexpected status) fails its cell: a cell that
errs for another reason must not pass as a refusal.

Access tokens are real ones (app/auth/access_tokens.py, the server's own key set),
turned into principals by the endpoint itself. The client columns are a client
registered for site X (`create_client`: its service account manages site X), each token
holding exactly one scope. The last two columns are tokens a client got for driver A
(authorization code): a scope opens only what the person may do anyway.
"""

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import ExecutionResult

from app.auth.access_tokens import AccessTokens
from app.auth.routes import build_access_tokens
from app.cli import migrate
from app.domain import scopes
from app.domain.model import Role, User
from app.schema import schema
from app.schema.context import Context
from app.schema.http import GraphQLEndpoint
from app.schema.operation_scopes import OPERATION_SCOPES
from app.schema.permissions import require_scopes
from app.services import devices, usage, webhooks
from app.services.accounts import store_token
from app.services.clients import create_client
from app.services.container import Services, build_services
from app.services.demo import seed_demo
from app.services.webhook_events import ALL_EVENTS
from app.settings import Settings
from app.store.repositories import Users
from device.protocol import SigningKey
from device.protocol.keys import b64url
from device.protocol.receipt import Receipt, encode_receipt
from device.protocol.revocation import RevocationConfirmation, encode_confirmation
from tests.schema.commissioning import registration
from tests.schema.foreign_site import FOREIGN_DRIVER, FOREIGN_MANAGER_TOKEN, add_foreign_site

ALLOW, DENY, SCOPE = "allow", "deny", "scope"
Y, N, S = ALLOW, DENY, SCOPE

PEOPLE = ("anonymous", "driverA", "driverB", "managerX", "managerY", "admin")
CLIENTS = tuple(f"client[{scope}]" for scope in scopes.ALL)
FOR_DRIVER_A = tuple(
    f"driverA[{scope}]" for scope in (scopes.REQUESTS_WRITE, scopes.REQUESTS_DECIDE)
)
PRINCIPALS = PEOPLE + CLIENTS + FOR_DRIVER_A

# Columns: the six people; a client token of site X per scope (read, write, decide,
# devices:manage, receipts:write); driver A's own token from a client, with requests:write
# and with requests:decide.
# fmt: off
MATRIX: dict[str, tuple[str, ...]] = {
    #                      anon A  B  mX mY adm  read wr dec dev rcp  A:wr A:dec
    # `me` is null for nobody signed in. An admin (Role.ADMIN) runs the installation from
    # the command line: in the API they belong to no site, so they see and decide nothing.
    "me":                  (N, Y, Y, Y, Y, Y,   Y, Y, Y, Y, Y,   Y, Y),
    "devices":             (N, Y, Y, Y, N, N,   Y, S, S, S, S,   S, S),
    "device":              (N, Y, Y, Y, N, N,   Y, S, S, S, S,   S, S),
    "usageRequests":       (N, Y, N, Y, N, N,   Y, S, S, S, S,   S, S),
    "usageRequest":        (N, Y, N, Y, N, N,   Y, S, S, S, S,   S, S),
    "revocationList":      (N, Y, Y, Y, N, N,   Y, S, S, S, S,   S, S),
    "trustList":           (N, Y, Y, Y, N, N,   Y, S, S, S, S,   S, S),
    "webhooks":            (N, N, N, Y, N, N,   Y, S, S, S, S,   S, S),
    "login":               (Y, Y, Y, Y, Y, Y,   Y, Y, Y, Y, Y,   Y, Y),
    # A site's managers may ask for its slots too, a client's service account among them;
    # driver A's own request is only driver A's to cancel or collect (or their token's).
    "requestUsage":        (N, Y, Y, Y, N, N,   S, Y, S, S, S,   Y, S),
    "cancelUsageRequest":  (N, Y, N, N, N, N,   S, N, S, S, S,   Y, S),
    "collectPermit":       (N, Y, N, N, N, N,   S, N, S, S, S,   Y, S),
    # requests:decide on a driver's token decides nothing: scopes never widen the role.
    "approveUsageRequest": (N, N, N, Y, N, N,   S, S, Y, S, S,   S, N),
    "rejectUsageRequest":  (N, N, N, Y, N, N,   S, S, Y, S, S,   S, N),
    "revokeUsageRequest":  (N, N, N, Y, N, N,   S, S, Y, S, S,   S, N),
    "revokePermit":        (N, N, N, Y, N, N,   S, S, Y, S, S,   S, N),
    "updateSitePolicy":    (N, N, N, Y, N, N,   S, S, Y, S, S,   S, N),
    "registerDevice":      (N, N, N, Y, N, N,   S, S, S, Y, S,   S, S),
    "updateCharger":       (N, N, N, Y, N, N,   S, S, S, Y, S,   S, S),
    # Device-signed words: anyone signed in may carry them home, whatever their site.
    "submitReceipts":      (N, Y, Y, Y, Y, Y,   S, S, S, S, Y,   S, S),
    "confirmRevocations":  (N, Y, Y, Y, Y, Y,   S, S, S, S, Y,   S, S),
    "createWebhook":       (N, N, N, Y, N, N,   Y, S, S, S, S,   S, S),
    "deleteWebhook":       (N, N, N, Y, N, N,   Y, S, S, S, S,   S, S),
    # The person's own account: first-party only, whatever a token holds.
    "setMyLanguage":       (N, Y, Y, Y, Y, Y,   S, S, S, S, S,   S, S),
    "usageRequestUpdated": (N, Y, N, Y, N, N,   Y, S, S, S, S,   S, S),
    "approvalQueue":       (N, N, N, Y, N, N,   S, S, Y, S, S,   S, N),
}
# fmt: on


# The prepared world: site X is the demo's site-1 (manager m1, drivers u1 = A and u2 = B,
# chargers ch-1..3, ch-1 commissioned); site Y is site-9 (manager m9, driver u9, far-1).
SITE_X, DEVICE_X = "site-1", "ch-1"
ADMIN = User("a1", "admin", "Ada Admin", Role.ADMIN)
ADMIN_TOKEN = "pp_matrix_admin_token"
NEEDS_MANAGER = 180  # minutes: beyond the 2 h that are approved without a manager
HOOK_URL = "http://127.0.0.1:9/hook"  # never posted to: no delivery worker runs here


@dataclass(frozen=True)
class World:
    """One prepared database, copied for every cell, and what the cells need of it."""

    data_dir: Path
    now: datetime
    tokens: dict[str, str | None]  # principal -> bearer token
    login: dict[str, str]  # driver A's login and password
    pending: str  # driver A's request waiting for a manager
    approved: str  # driver A's approved request, with its permit
    permit: str
    receipt: str  # ch-1's signed receipt for that permit
    confirmation: str  # ch-1's signed word that it holds revocation list 1
    new_device: dict[str, str]  # key and proof to register ch-9 at site X
    webhook: str  # site X's webhook


def _settings(data_dir: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{data_dir / 'pp.db'}"
    return Settings(data_dir, url, webhook_allow_private=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    settings = _settings(tmp_path_factory.mktemp("matrix"))
    migrate(settings)
    now = datetime.now(UTC).replace(microsecond=0)
    services = build_services(settings)
    services.clock = lambda: now
    demo = seed_demo(services, settings.data_dir)  # before any loop: it runs synchronously
    access_tokens = build_access_tokens(settings)  # creates the server's key set
    return asyncio.run(_prepare(services, access_tokens, settings, demo, now))


async def _prepare(
    services: Services,
    access_tokens: AccessTokens,
    settings: Settings,
    demo: dict[str, Any],
    now: datetime,
) -> World:
    def people(conn: Any) -> None:
        add_foreign_site(conn, now)
        Users(conn).add(ADMIN)
        store_token(conn, ADMIN.id, ADMIN_TOKEN, "test", now)

    await services.db.write(people)
    client, _ = await create_client(services, "Fleet app", SITE_X, " ".join(scopes.ALL), [])
    manager, driver = await _users(services, "m1", "u1")
    device_key = SigningKey.generate()
    commissioning = registration(device_key, DEVICE_X, int(now.timestamp()))
    await devices.register_device(
        services, manager, DEVICE_X, "Bay 1", SITE_X, commissioning["key"], commissioning["proof"]
    )
    pending = await _ask(services, driver, now + timedelta(hours=1), NEEDS_MANAGER)
    approved = await _ask(services, driver, now + timedelta(hours=5), 60)
    withdrawn = await _ask(services, driver, now + timedelta(hours=8), 60)
    await usage.cancel(services, driver, withdrawn.id)  # revocation list 1 names its permit
    assert approved.permit_id is not None and withdrawn.permit_id is not None
    permit_id = bytes.fromhex(approved.permit_id)
    receipt = Receipt(DEVICE_X, permit_id, 1, 1, 2, 900.0, "window_end", approved.id)
    confirmation = RevocationConfirmation(DEVICE_X, 1, int(now.timestamp()))
    hook = await webhooks.create_webhook(services, manager, SITE_X, HOOK_URL, list(ALL_EVENTS))
    await services.db.dispose()

    def token(sub: str, scope: str) -> str:
        issued, _ = access_tokens.issue(sub, client.client_id, frozenset({scope}), now)
        return issued

    tokens: dict[str, str | None] = {
        "anonymous": None,
        "driverA": demo["user"]["token"],
        "driverB": demo["user2"]["token"],
        "managerX": demo["manager"]["token"],
        "managerY": FOREIGN_MANAGER_TOKEN,
        "admin": ADMIN_TOKEN,
    }
    tokens |= {f"client[{s}]": token(client.service_user_id, s) for s in scopes.ALL}
    tokens |= {
        f"driverA[{s}]": token(driver.id, s)
        for s in (scopes.REQUESTS_WRITE, scopes.REQUESTS_DECIDE)
    }
    return World(
        data_dir=settings.data_dir,
        now=now,
        tokens=tokens,
        login={"login": demo["user"]["login"], "password": demo["user"]["password"]},
        pending=pending.id,
        approved=approved.id,
        permit=approved.permit_id,
        receipt=b64url(encode_receipt(receipt, device_key)),
        confirmation=b64url(encode_confirmation(confirmation, device_key)),
        new_device=registration(SigningKey.generate(), "ch-9", int(now.timestamp())),
        webhook=hook.subscription.id,
    )


async def _users(services: Services, *ids: str) -> list[User]:
    def work(conn: Any) -> list[User]:
        found = [Users(conn).get(user_id) for user_id in ids]
        assert all(found), ids
        return found  # type: ignore[return-value]

    return await services.db.read(work)


async def _ask(services: Services, driver: User, start: datetime, minutes: int) -> Any:
    asked = await usage.request_usage(services, driver, DEVICE_X, start, timedelta(minutes=minutes))
    assert asked.request is not None, asked.decision
    return asked.request


@dataclass
class Cell:
    world: World
    services: Services
    endpoint: GraphQLEndpoint
    client: httpx.AsyncClient
    token: str | None

    async def run(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = {"query": document, "variables": variables or {}}
        response = await self.client.post("/graphql", json=payload, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def services(world: World, tmp_path: Path) -> AsyncIterator[Services]:
    """A fresh copy of the prepared world, its clock standing where it was prepared."""
    data_dir = tmp_path / "data"
    shutil.copytree(world.data_dir, data_dir)
    built = build_services(_settings(data_dir))
    built.clock = lambda: world.now
    yield built
    await built.db.dispose()


@pytest.fixture
def endpoint(services: Services, tmp_path: Path) -> GraphQLEndpoint:
    """/graphql as the server serves it, verifying access tokens with its own key set."""
    return GraphQLEndpoint(services, build_access_tokens(_settings(tmp_path / "data")))


# --- how each operation is called, and what shows that it did its work -----------------

REQUEST = "id status userId"
DECISION = f"__typename ... on UsageRequest {{ {REQUEST} }} ... on NotFound {{ message }}"
DECISION += " ... on NotAllowed { message } ... on InvalidTransition { message }"
DECISION += " ... on InvalidInput { message }"


async def _query(cell: Cell, field: str, document: str, variables: Any = None) -> Any:
    return _answer(await cell.run(document, variables), field)


def _answer(body: dict[str, Any], field: str) -> Any:
    """The field's value, or the outcome when it was refused before it had one."""
    errors = body.get("errors") or []
    if errors:
        return _refusal(errors)
    return body["data"][field]


SIGN_IN_ERRORS = {
    "Sign in first: send 'Authorization: Bearer <token>'.",
    "Only managers may do this.",
}


def _refusal(errors: list[Any]) -> str:
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    if "INSUFFICIENT_SCOPE" in codes:
        return SCOPE
    assert all(e["message"] in SIGN_IN_ERRORS for e in errors), errors
    return DENY


def _typed(value: Any, worked: Callable[[Any], bool] = lambda v: True) -> str:
    """A result union: the work done, a typed refusal, or a failure no cell expects."""
    if value in (ALLOW, DENY, SCOPE):
        return str(value)
    if value is None:
        return DENY  # hidden: as if it did not exist
    kind = value.get("__typename") if isinstance(value, dict) else None
    if kind in ("NotAllowed", "NotFound"):
        return DENY
    if kind == "RequestDenied" and {r["code"] for r in value["reasons"]} == {"site_not_allowed"}:
        return DENY
    assert kind not in ("InvalidInput", "InvalidTransition", "RequestDenied", "LoginFailed")
    assert kind is None or not kind.endswith(("Refused", "Failed")), value
    return ALLOW if worked(value) else DENY


async def me(cell: Cell) -> str:
    value = await _query(cell, "me", "{ me { id } }")
    return _typed(value)


async def devices_(cell: Cell) -> str:
    value = await _query(cell, "devices", "{ devices { id } }")
    return _typed(value, lambda found: DEVICE_X in {d["id"] for d in found})


async def device(cell: Cell) -> str:
    value = await _query(
        cell, "device", "query ($id: ID!) { device(id: $id) { id } }", {"id": DEVICE_X}
    )
    return _typed(value)


async def usage_requests(cell: Cell) -> str:
    document = f"{{ usageRequests(first: 50) {{ edges {{ node {{ {REQUEST} }} }} }} }}"
    value = await _query(cell, "usageRequests", document)
    pending = cell.world.pending
    return _typed(value, lambda page: pending in {e["node"]["id"] for e in page["edges"]})


async def usage_request(cell: Cell) -> str:
    document = f"query ($id: ID!) {{ usageRequest(id: $id) {{ {REQUEST} }} }}"
    return _typed(await _query(cell, "usageRequest", document, {"id": cell.world.pending}))


async def revocation_list(cell: Cell) -> str:
    document = "query ($id: ID!) { revocationList(deviceId: $id) { sequence token } }"
    value = await _query(cell, "revocationList", document, {"id": DEVICE_X})
    return _typed(value, lambda signed: signed["sequence"] == 1 and bool(signed["token"]))


async def trust_list(cell: Cell) -> str:
    document = "query ($id: ID!) { trustList(deviceId: $id) { kids token } }"
    value = await _query(cell, "trustList", document, {"id": DEVICE_X})
    return _typed(value, lambda signed: bool(signed["kids"]) and bool(signed["token"]))


async def login(cell: Cell) -> str:
    document = (
        "mutation ($login: String!, $password: String!) { login(login: $login, password: "
        "$password) { __typename ... on Session { token me { id } } } }"
    )
    value = await _query(cell, "login", document, cell.world.login)
    return _typed(value, lambda session: session["me"]["id"] == "u1")


async def request_usage(cell: Cell) -> str:
    document = (
        'mutation ($start: DateTime!) { requestUsage(input: {deviceId: "ch-2", startsAt: '
        f"$start, durationMinutes: 30}}) {{ __typename ... on UsageRequest {{ {REQUEST} }} "
        "... on RequestDenied { reasons { code } } } }"
    )
    start = (cell.world.now + timedelta(days=2)).isoformat()
    value = await _query(cell, "requestUsage", document, {"start": start})
    return _typed(value, lambda asked: asked["status"] == "APPROVED")


def _decision(field: str, arguments: str, status: str) -> Callable[[Cell], Awaitable[str]]:
    async def decide(cell: Cell) -> str:
        document = f"mutation ($id: ID!) {{ {field}({arguments}) {{ {DECISION} }} }}"
        world = cell.world
        target = world.approved if status in ("CANCELLED", "REVOKED") else world.pending
        value = await _query(cell, field, document, {"id": target})
        return _typed(value, lambda done: done["status"] == status and done["id"] == target)

    return decide


async def collect_permit(cell: Cell) -> str:
    document = (
        "mutation ($id: ID!) { collectPermit(requestId: $id) { __typename "
        "... on UsageRequest { id permit { id } } ... on NotAllowed { message } "
        "... on NotFound { message } ... on RequestDenied { reasons { code } } } }"
    )
    value = await _query(cell, "collectPermit", document, {"id": cell.world.approved})
    return _typed(value, lambda done: done["permit"]["id"] == cell.world.permit)


async def revoke_permit(cell: Cell) -> str:
    document = (
        'mutation ($id: ID!) { revokePermit(permitId: $id, reason: "misuse") { __typename '
        "... on RevokedPermit { permit { revoked } usageRequest { status } } "
        "... on NotAllowed { message } ... on NotFound { message } "
        "... on InvalidTransition { message } ... on InvalidInput { message } } }"
    )
    value = await _query(cell, "revokePermit", document, {"id": cell.world.permit})
    return _typed(value, lambda done: done["permit"]["revoked"])


async def update_site_policy(cell: Cell) -> str:
    document = (
        'mutation { updateSitePolicy(input: {siteId: "site-1", opensAt: "06:00", '
        'closesAt: "22:00", maxDurationMinutes: 240, autoApproveMinutes: 60, '
        "bookingHorizonDays: 7, maxOpenRequests: 2}) { __typename "
        "... on SitePolicy { maxDurationMinutes } ... on NotAllowed { message } "
        "... on NotFound { message } ... on InvalidInput { message } } }"
    )
    value = await _query(cell, "updateSitePolicy", document)
    return _typed(value, lambda policy: policy["maxDurationMinutes"] == 240)


async def register_device(cell: Cell) -> str:
    document = (
        'mutation ($key: String!, $proof: String!) { registerDevice(input: {id: "ch-9", '
        'name: "Bay 9", siteId: "site-1", publicKey: $key, proof: $proof}) { __typename '
        "... on Device { id commissioned } ... on NotAllowed { message } "
        "... on NotFound { message } ... on InvalidInput { message } } }"
    )
    value = await _query(cell, "registerDevice", document, cell.world.new_device)
    return _typed(value, lambda found: found["commissioned"])


async def update_charger(cell: Cell) -> str:
    document = (
        'mutation { updateCharger(input: {id: "ch-1", name: "Bay One"}) { __typename '
        "... on Device { name } ... on NotAllowed { message } ... on NotFound { message } "
        "... on InvalidInput { message } } }"
    )
    value = await _query(cell, "updateCharger", document)
    return _typed(value, lambda found: found["name"] == "Bay One")


async def submit_receipts(cell: Cell) -> str:
    document = (
        "mutation ($tokens: [String!]!) { submitReceipts(tokens: $tokens) "
        "{ status usageRequestId } }"
    )
    value = await _query(cell, "submitReceipts", document, {"tokens": [cell.world.receipt]})
    if not isinstance(value, list):
        return _typed(value)
    return _typed(value, lambda results: results[0]["status"] == "ACCEPTED")


async def confirm_revocations(cell: Cell) -> str:
    document = (
        'mutation ($c: String!) { confirmRevocations(deviceId: "ch-1", confirmation: $c) '
        "{ __typename ... on RevocationsConfirmed { sequence released { id } } "
        "... on NotFound { message } ... on InvalidInput { message } } }"
    )
    value = await _query(cell, "confirmRevocations", document, {"c": cell.world.confirmation})
    return _typed(value, lambda done: done["sequence"] == 1 and len(done["released"]) == 1)


async def set_my_language(cell: Cell) -> str:
    document = (
        'mutation { setMyLanguage(language: "ja") { __typename '
        "... on MyLanguage { language } ... on InvalidInput { message } } }"
    )
    value = await _query(cell, "setMyLanguage", document)
    return _typed(value, lambda done: done["language"] == "ja")


async def webhooks_(cell: Cell) -> str:
    document = (
        'query { webhooks(siteId: "site-1") { __typename ... on SiteWebhooks '
        "{ webhooks { id } } ... on NotAllowed { message } ... on NotFound { message } } }"
    )
    value = await _query(cell, "webhooks", document)
    return _typed(value, lambda found: [w["id"] for w in found["webhooks"]] == [cell.world.webhook])


async def create_webhook(cell: Cell) -> str:
    document = (
        'mutation ($url: String!) { createWebhook(siteId: "site-1", url: $url, '
        'events: ["request.submitted"]) { __typename ... on WebhookCreated { secret '
        "webhook { url } } ... on NotAllowed { message } ... on NotFound { message } "
        "... on InvalidInput { message } } }"
    )
    value = await _query(cell, "createWebhook", document, {"url": HOOK_URL + "/2"})
    return _typed(value, lambda made: made["webhook"]["url"] == HOOK_URL + "/2")


async def delete_webhook(cell: Cell) -> str:
    document = (
        "mutation ($id: ID!) { deleteWebhook(id: $id) { __typename ... on WebhookDeleted "
        "{ id } ... on NotAllowed { message } ... on NotFound { message } } }"
    )
    value = await _query(cell, "deleteWebhook", document, {"id": cell.world.webhook})
    return _typed(value, lambda done: done["id"] == cell.world.webhook)


# --- subscriptions: the subscribe step over the endpoint's own websocket sign-in --------


async def _subscribe(cell: Cell, document: str, variables: Any = None) -> Any:
    """The stream, or the outcome when the connection or the subscription was refused."""
    header = f"Bearer {cell.token}" if cell.token else ""
    context = Context(cell.services, None, connection_params={"Authorization": header})
    try:
        await cell.endpoint.on_ws_connect(context)
    except ConnectionRejectionError:
        return DENY
    stream = await schema.subscribe(document, variables, context)
    if isinstance(stream, ExecutionResult):
        return _refusal([e.formatted for e in stream.errors or []])
    return stream


async def _first(stream: Any) -> Any:
    result = await asyncio.wait_for(anext(stream), 10)
    await stream.aclose()
    return result


async def usage_request_updated(cell: Cell) -> str:
    document = f"subscription ($id: ID!) {{ usageRequestUpdated(id: $id) {{ {REQUEST} }} }}"
    stream = await _subscribe(cell, document, {"id": cell.world.pending})
    if isinstance(stream, str):
        return stream
    result = await _first(stream)
    if result.errors:
        return _refusal([e.formatted for e in result.errors])
    return _typed(result.data["usageRequestUpdated"])


async def approval_queue(cell: Cell) -> str:
    """Subscribed, it must get site X's next request that waits for a manager; a request
    at site Y follows, so a subscriber who may not see X's gets Y's first (or nothing)."""
    stream = await _subscribe(cell, "subscription { approvalQueue { id } }")
    if isinstance(stream, str):
        return stream
    first = asyncio.ensure_future(anext(stream))
    for _ in range(500):  # until it listens on the bus, or was refused
        if first.done() or cell.services.bus.topics():  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.01)
    site_x_request = None
    if not first.done():
        driver, foreign = await _users(cell.services, "u1", FOREIGN_DRIVER.id)
        start = cell.world.now + timedelta(days=2)
        site_x_request = (await _ask_at(cell.services, driver, "ch-2", start)).id
        await _ask_at(cell.services, foreign, "far-1", start)
    try:
        result = await asyncio.wait_for(first, 5)
    except TimeoutError:
        return DENY  # nothing of site X arrived
    finally:
        await stream.aclose()
    if result.errors:
        return _refusal([e.formatted for e in result.errors])
    return ALLOW if result.data["approvalQueue"]["id"] == site_x_request else DENY


async def _ask_at(services: Services, driver: User, device_id: str, start: datetime) -> Any:
    asked = await usage.request_usage(
        services, driver, device_id, start, timedelta(minutes=NEEDS_MANAGER)
    )
    assert asked.request is not None, asked.decision
    return asked.request


CALLS: dict[str, Callable[[Cell], Awaitable[str]]] = {
    "me": me,
    "devices": devices_,
    "device": device,
    "usageRequests": usage_requests,
    "usageRequest": usage_request,
    "revocationList": revocation_list,
    "trustList": trust_list,
    "login": login,
    "requestUsage": request_usage,
    "cancelUsageRequest": _decision("cancelUsageRequest", "id: $id", "CANCELLED"),
    "collectPermit": collect_permit,
    "approveUsageRequest": _decision("approveUsageRequest", "id: $id", "APPROVED"),
    "rejectUsageRequest": _decision("rejectUsageRequest", 'id: $id, reason: "full"', "REJECTED"),
    "revokeUsageRequest": _decision("revokeUsageRequest", 'id: $id, reason: "misuse"', "REVOKED"),
    "revokePermit": revoke_permit,
    "updateSitePolicy": update_site_policy,
    "registerDevice": register_device,
    "updateCharger": update_charger,
    "submitReceipts": submit_receipts,
    "confirmRevocations": confirm_revocations,
    "webhooks": webhooks_,
    "createWebhook": create_webhook,
    "deleteWebhook": delete_webhook,
    "setMyLanguage": set_my_language,
    "usageRequestUpdated": usage_request_updated,
    "approvalQueue": approval_queue,
}

CELLS = [
    pytest.param(operation, principal, expected, id=f"{operation}-{principal}")
    for operation, row in MATRIX.items()
    for principal, expected in zip(PRINCIPALS, row, strict=True)
]


@pytest.mark.parametrize(("operation", "principal", "expected"), CELLS)
async def test_cell(
    world: World,
    services: Services,
    endpoint: GraphQLEndpoint,
    operation: str,
    principal: str,
    expected: str,
) -> None:
    transport = httpx.ASGITransport(app=endpoint)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        cell = Cell(world, services, endpoint, client, world.tokens[principal])
        assert await CALLS[operation](cell) == expected


def _root_fields() -> set[str]:
    built = schema._schema  # graphql-core's schema, as served
    types = (built.query_type, built.mutation_type, built.subscription_type)
    return {name for root in types if root is not None for name in root.fields}


def test_every_operation_of_the_live_schema_has_a_row() -> None:
    """A new query, mutation or subscription fails here until the matrix and the scope
    table say who may call it (and the matrix can call it)."""
    fields = _root_fields()
    assert fields - MATRIX.keys() == set(), "add a row to MATRIX for these operations"
    assert fields - CALLS.keys() == set(), "add how to call these operations to CALLS"
    assert fields - OPERATION_SCOPES.keys() == set(), "add these to operation_scopes.py"
    assert MATRIX.keys() - fields == set(), "rows for operations the schema no longer has"
    assert OPERATION_SCOPES.keys() - fields == set(), "scopes of operations no longer there"


async def test_a_token_without_the_scope_is_told_which_one_and_nothing_changes(
    world: World, services: Services, endpoint: GraphQLEndpoint
) -> None:
    transport = httpx.ASGITransport(app=endpoint)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        reader = Cell(world, services, endpoint, client, world.tokens["client[requests:read]"])
        approve = "mutation ($id: ID!) { approveUsageRequest(id: $id) { __typename } }"
        body = await reader.run(approve, {"id": world.pending})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INSUFFICIENT_SCOPE"
        assert error["extensions"]["scope"] == scopes.REQUESTS_DECIDE
        assert "requests:decide" in error["message"]
        assert body["data"] is None
        seen = await reader.run(
            "query ($id: ID!) { usageRequest(id: $id) { status } }", {"id": world.pending}
        )
        assert seen["data"]["usageRequest"]["status"] == "NEEDS_MANAGER"


def test_a_root_field_without_a_row_is_closed_to_every_access_token() -> None:
    """Fail closed: an operation someone adds without a row in operation_scopes.py."""

    @strawberry.type
    class Query:
        @strawberry.field
        def unlisted(self) -> str:
            return "done"

    require_scopes(Query)
    closed = strawberry.Schema(query=Query)
    person = User("u1", "user", "Udo Driver", Role.USER)
    token = User("u1", "user", "Udo Driver", Role.USER, frozenset(scopes.ALL), "c-1")
    for who in (None, person):
        answer = closed.execute_sync("{ unlisted }", context_value=Context(None, who))  # type: ignore[arg-type]
        assert answer.data == {"unlisted": "done"}, answer.errors
    refused = closed.execute_sync("{ unlisted }", context_value=Context(None, token))  # type: ignore[arg-type]
    assert refused.errors and refused.errors[0].extensions == {"code": "INSUFFICIENT_SCOPE"}


DOCS = Path(__file__).parents[2] / "docs" / "api-access.md"
DOC_ROW = re.compile(r"^\| `(\w+)` \| (query|mutation|subscription) \| (.+) \|$")


def test_the_integrators_scope_table_is_the_servers() -> None:
    documented = {}
    for line in DOCS.read_text().splitlines():
        if match := DOC_ROW.match(line):
            name, kind, needs = match.groups()
            documented[name] = (kind, needs.strip("`"))
    built = schema._schema
    kinds = {
        "query": built.query_type,
        "mutation": built.mutation_type,
        "subscription": built.subscription_type,
    }
    served = {
        name: (kind, needed if isinstance(needed, str) else needed.value)
        for name, needed in OPERATION_SCOPES.items()
        for kind, root in kinds.items()
        if root is not None and name in root.fields
    }
    assert documented == served

"""The phone fetches a charger's trust-list document with `trustList`, like its revocation list."""

from typing import Any

import httpx

from app.main import create_app
from app.services import permit_keys
from app.services.container import Services
from app.services.demo import add_busy_site
from device.protocol.keys import TrustList, b64url, b64url_decode
from device.protocol.trust_update import read_trust_document
from tests.conftest import Clock, GraphQLClient

TRUST = '{ trustList(deviceId: "ch-1") { deviceId sequence kids token } }'


async def test_the_site_gets_the_signed_list_and_its_rotations(
    gql: GraphQLClient, services: Services, tokens: dict[str, str], clock: Clock
) -> None:
    first = services.signer.key_set()
    before = (await gql(TRUST, token=tokens["user"]))["data"]["trustList"]
    assert (before["sequence"], before["kids"]) == (0, [b64url(services.signer.key.kid)])

    ring = permit_keys.rotate_keys(services, clock.now)
    for who in ("user", "manager"):
        after = (await gql(TRUST, token=tokens[who]))["data"]["trustList"]
        assert (after["deviceId"], after["sequence"]) == ("ch-1", 1)
        assert after["kids"] == [e.kid for e in ring.entries]
        # A charger that trusts only the first key can take it: the oldest key signed it.
        document = read_trust_document(b64url_decode(after["token"]), first, device_id="ch-1")
        assert b64url(ring.current.kid) in after["kids"]
        assert len(document.trust) == 2

    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        published = (await client.get("/.well-known/permit-keys")).json()
    assert [k["kid"] for k in published["keys"]] == after["kids"]
    assert len(TrustList.from_jwks(published)) == 2


async def test_outside_the_site_the_charger_does_not_exist(
    gql: GraphQLClient, services: Services, clock: Clock
) -> None:
    _, [stranger] = await services.db.write(
        lambda c: add_busy_site(c, "elsewhere", devices=1, drivers=1, now=clock.now)
    )
    assert (await gql(TRUST, token=stranger))["data"]["trustList"] is None
    anonymous: dict[str, Any] = await gql(TRUST)
    assert anonymous["data"]["trustList"] is None and anonymous["errors"]

import json
import time
from typing import Any

from nicegui import ui

from app.domain.model import Role, User
from app.services.container import Services
from app.services.devices import list_devices
from device.protocol import SigningKey
from device.protocol.keys import b64url, key_id, raw_public
from device.protocol.possession import prove_possession
from tests.ui.conftest import SLOW, Person, sign_in
from tests.ui.console import add_other_site

MANAGER = User("m1", "manager", "Mia Manager", Role.MANAGER)


async def test_the_chargers_of_the_managers_sites_are_listed(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    await add_other_site(services)
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    manager.find("Chargers").click()
    await manager.should_see("Register a charger", retries=SLOW)
    rows = chargers_table(manager)
    assert [row["id"] for row in rows] == ["ch-1", "ch-2", "ch-3"]  # not the other site's
    assert rows[0]["site"] == "Riverside Depot"
    assert rows[0]["key_id"] == "not commissioned"
    assert rows[0]["last_receipt"] == "none yet"
    assert rows[0]["sequence"] == 0


async def test_a_manager_registers_a_charger_with_its_proof_and_downloads_the_trust_file(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.open("/manage/chargers")
    await manager.should_see("Register a charger", retries=SLOW)

    manager.find("Download trust file").click()
    trust = json.loads((await manager.download.next()).content)
    assert trust == services.signer.jwks()

    key = SigningKey.generate()
    printed = {
        "device_id": "ch-9",
        "public_key": b64url(raw_public(key.public_key)),
        "proof": b64url(prove_possession("ch-9", key, int(time.time()))),
    }
    manager.find("What powerpermit-device printed").type(json.dumps(printed))
    manager.find("Name").type("Bay 9")
    manager.find("Local link URL").type("http://192.168.1.29:8410")
    manager.find(kind=ui.button, content="Register").click()
    await manager.should_see("Registered Bay 9 (ch-9).", retries=SLOW)

    row = next(r for r in chargers_table(manager) if r["id"] == "ch-9")
    assert row["key_id"] == b64url(key_id(key.public_key))
    assert row["link_url"] == "http://192.168.1.29:8410"
    assert "ch-9" in [d.id for d in await list_devices(services, MANAGER)]


async def test_a_registration_without_a_valid_proof_is_refused_in_words(
    person: Person, demo: dict[str, Any]
) -> None:
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.open("/manage/chargers")
    await manager.should_see("Register a charger", retries=SLOW)
    manager.find(kind=ui.button, content="Register").click()
    await manager.should_see("Fill in: Charger id, Name, Public key, Proof of possession.")

    key, other = SigningKey.generate(), SigningKey.generate()
    manager.find(kind=ui.input, content="Charger id").type("ch-9")
    manager.find(kind=ui.input, content="Name").type("Bay 9")
    manager.find(kind=ui.input, content="Public key").type(b64url(raw_public(key.public_key)))
    manager.find(kind=ui.input, content="Proof of possession").type(
        b64url(prove_possession("ch-9", other, int(time.time())))
    )
    manager.find(kind=ui.button, content="Register").click()
    await manager.should_see("Not registered: The proof does not show", retries=SLOW)


def chargers_table(user: Any) -> list[dict[str, Any]]:
    [table] = user.find(marker="chargers").elements
    return list(table.rows)

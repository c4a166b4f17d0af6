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


async def on_chargers_page(person: Person, demo: dict[str, Any]) -> Any:
    """The demo's manager, signed in, with the chargers page shown."""
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.open("/manage/chargers")
    await manager.should_see("Register a charger", retries=SLOW)
    return manager


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
    manager = await on_chargers_page(person, demo)

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
    manager = await on_chargers_page(person, demo)
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


async def open_editor(manager: Any, charger_id: str) -> None:
    row = next(r for r in chargers_table(manager) if r["id"] == charger_id)
    manager.find(marker="chargers").trigger("edit", row)  # the row's Edit button
    await manager.should_see(marker="charger-editor", retries=SLOW)


async def test_a_manager_edits_a_charger_in_a_dialog(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    manager = await on_chargers_page(person, demo)

    await open_editor(manager, "ch-1")
    dialog_inputs(manager, "Name").set_value("Bay 1 North")
    dialog_inputs(manager, "Local link URL").set_value("http://192.168.1.21:8410")
    dialog_inputs(manager, "Maximum power (W)").set_value(7400)
    manager.find(kind=ui.checkbox, content="In service").click()
    manager.find(marker="save-charger").click()
    await manager.should_see("Saved Bay 1 North (ch-1).", retries=SLOW)

    [device] = [d for d in await list_devices(services, MANAGER) if d.id == "ch-1"]
    assert device.name == "Bay 1 North"
    assert device.link_url == "http://192.168.1.21:8410"
    assert device.in_service is False
    assert device.max_power_w == 7400
    row = next(r for r in chargers_table(manager) if r["id"] == "ch-1")
    assert (row["name"], row["in_service_words"], row["max_power_w"]) == ("Bay 1 North", "no", 7400)


async def test_a_charger_edit_with_bad_values_is_refused_in_words_and_changes_nothing(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    [before] = [d for d in await list_devices(services, MANAGER) if d.id == "ch-1"]
    manager = await on_chargers_page(person, demo)

    await open_editor(manager, "ch-1")
    dialog_inputs(manager, "Local link URL").set_value("ftp://192.168.1.21")
    manager.find(marker="save-charger").click()
    await manager.should_see(
        "Not saved: A link URL is http:// or https://, a host, an optional port and path "
        "(at most 255 characters).",
        retries=SLOW,
    )
    dialog_inputs(manager, "Local link URL").set_value("")
    dialog_inputs(manager, "Maximum power (W)").set_value(5)
    manager.find(marker="save-charger").click()
    await manager.should_see("Not saved: Maximum power is 100–4000000 W.", retries=SLOW)
    dialog_inputs(manager, "Maximum power (W)").set_value(7400)
    dialog_inputs(manager, "Name").set_value("   ")
    manager.find(marker="save-charger").click()
    await manager.should_see(
        "Not saved: A charger name is 1–64 printable characters.", retries=SLOW
    )

    [after] = [d for d in await list_devices(services, MANAGER) if d.id == "ch-1"]
    assert after == before


def dialog_inputs(manager: Any, label: str) -> Any:
    """The editor's field of that label (the register form below has its own)."""
    [editor] = manager.find(marker="charger-editor").elements
    [field] = [e for e in editor.descendants() if e.props.get("label") == label]
    return field

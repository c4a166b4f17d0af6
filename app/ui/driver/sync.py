"""Sync with charger: the phone carries the charger's receipts home and the server's word
back, over the local link, from the browser.

The browser fetches the charger's unsent receipts and hands them to this page; the page
stores them (app/services/receipts.py) and gives the browser the server's signed
acknowledgement to pass on, so the charger may drop them. A revocation list newer than the
charger's goes the same way, and the charger's signed confirmation comes back; so does the
server's trust list after a permit-key rotation (docs/device.md), so the charger knows a
new key before a permit signed with it arrives.
"""

from collections.abc import Callable
from dataclasses import dataclass

from nicegui import ui

from app.domain.model import Device, User
from app.services.container import Services
from app.services.errors import ServiceError
from app.services.permit_keys import trust_list
from app.services.permits import RevocationListTooLarge, confirm_revocations, revocation_list
from app.services.receipts import ReceiptStatus, submit_receipts
from app.ui import sessions, sign_in
from app.ui.driver import charger_link
from app.ui.i18n import _, ngettext
from app.ui.words import error_words
from device.protocol.keys import b64url

RECEIPTS_PER_CALL = 100  # as submitReceipts takes them
MAX_RECEIPTS_PER_SYNC = 1000  # a charger holds far fewer; more is not a charger talking


@dataclass(frozen=True)
class Uploaded:
    stored: int  # new to the server
    energy_wh: float  # what the new ones delivered
    acknowledgements: list[str]  # base64url, for the charger: it may drop what they name
    refused: int  # receipts the server could not take; the charger keeps them


async def upload_receipts(services: Services, tokens: list[object]) -> Uploaded:
    """The page action behind Sync: what the browser says the charger holds, stored."""
    texts = [token for token in tokens if isinstance(token, str)][:MAX_RECEIPTS_PER_SYNC]
    stored, energy, refused, acknowledgements = 0, 0.0, 0, []
    for start in range(0, len(texts), RECEIPTS_PER_CALL):
        for outcome in await submit_receipts(services, texts[start : start + RECEIPTS_PER_CALL]):
            if outcome.status is ReceiptStatus.ACCEPTED and outcome.receipt is not None:
                stored += 1
                energy += outcome.receipt.energy_wh
            elif outcome.status is ReceiptStatus.INVALID:
                refused += 1
            if outcome.acknowledgement is not None:
                ack = b64url(outcome.acknowledgement)
                if ack not in acknowledgements:
                    acknowledgements.append(ack)
    return Uploaded(stored, energy, acknowledgements, refused)


class SyncCard:
    def __init__(
        self, services: Services, user: User, devices: list[Device], on_synced: Callable[[], object]
    ) -> None:
        self.services, self.user, self.on_synced = services, user, on_synced
        self.devices = {device.id: device for device in devices if device.link_url}
        if not self.devices:
            return
        with ui.card().classes("w-full"):
            first = next(iter(self.devices.values()))
            self.choice = ui.select(
                {d.id: d.name for d in self.devices.values()}, value=first.id, label=_("Sync with")
            ).classes("w-full")
            self.choice.set_visibility(len(self.devices) > 1)
            self.button = ui.button(_("Sync with charger"), on_click=self.sync).classes("w-full")
            self.button.mark("sync")
            self.result = ui.column().classes("gap-0").mark("sync-result")

    async def sync(self) -> None:
        if await sessions.signed_in(self.services) is None:
            sign_in.again()
            return
        device = self.devices[self.choice.value]
        link = device.link_url
        assert link is not None
        self.result.clear()
        self.button.disable()
        try:
            info = await charger_link.info(link)
            if not info.ok:
                self._say(_("Not synced: {reason}").format(reason=info.reason_words()))
                return
            if info.body.get("device_id") != device.id:
                self._say(
                    _("That link answers as another charger, not {charger}.").format(
                        charger=device.name
                    )
                )
                return
            await self._receipts(link)
            held = info.body.get("revocation_sequence")
            await self._revocations(device, held if isinstance(held, int) else 0)
            trusted = info.body.get("trust_sequence")
            await self._trust(device, trusted if isinstance(trusted, int) else None)
        finally:
            self.button.enable()
        self.on_synced()

    async def _receipts(self, link: str) -> None:
        fetched = await charger_link.receipts(link)
        listed = fetched.body.get("receipts")
        if not fetched.ok or not isinstance(listed, list):
            self._say(_("Receipts not fetched: {reason}").format(reason=fetched.reason_words()))
            return
        tokens = [item.get("token") for item in listed if isinstance(item, dict)]
        uploaded = await upload_receipts(self.services, tokens)
        let_go = 0
        for acknowledgement in uploaded.acknowledgements:
            answer = await charger_link.acknowledge(link, acknowledgement)
            count = answer.body.get("acknowledged")
            let_go += count if answer.ok and isinstance(count, int) else 0
        kwh = uploaded.energy_wh / 1000
        self._say(
            _("{receipts} uploaded · {kwh} kWh").format(
                receipts=_receipts(uploaded.stored), kwh=f"{kwh:.2f}"
            )
        )
        if uploaded.refused:
            self._say(
                _("{receipts} not accepted; the charger keeps them.").format(
                    receipts=_receipts(uploaded.refused)
                )
            )
        if let_go:
            self._say(
                _("The charger let go of {receipts} the server now holds.").format(
                    receipts=_receipts(let_go)
                )
            )

    async def _revocations(self, device: Device, held: int) -> None:
        try:
            signed = await revocation_list(self.services, self.user, device.id)
        except (ServiceError, RevocationListTooLarge) as err:
            self._say(_("No revocation list: {error}").format(error=error_words(err)))
            return
        if signed.sequence <= held:
            self._say(
                _("The charger holds the newest revocation list ({sequence}).").format(
                    sequence=held
                )
            )
            return
        assert device.link_url is not None
        answer = await charger_link.revocations(device.link_url, b64url(signed.token))
        if not answer.ok:
            self._say(
                _("Revocation list {sequence} refused: {reason}").format(
                    sequence=signed.sequence, reason=answer.reason_words()
                )
            )
            return
        self._say(
            _("Revocation list {sequence} handed to the charger.").format(sequence=signed.sequence)
        )
        confirmation = answer.body.get("confirmation")
        if isinstance(confirmation, str):
            try:
                await confirm_revocations(self.services, device.id, confirmation)
            except ServiceError as err:
                self._say(
                    _("The charger's confirmation was not taken: {error}").format(
                        error=error_words(err)
                    )
                )

    async def _trust(self, device: Device, held: int | None) -> None:
        """The server's trust list, when it is newer than the one the charger holds (None: the
        charger holds none yet, only the keys it was commissioned with)."""
        try:
            signed = await trust_list(self.services, self.user, device.id)
        except ServiceError as err:
            self._say(_("No trust list: {error}").format(error=error_words(err)))
            return
        sequence = signed.document.sequence
        if held is not None and sequence <= held:
            self._say(
                _("The charger holds the newest trust list ({sequence}).").format(sequence=held)
            )
            return
        assert device.link_url is not None
        answer = await charger_link.trust(device.link_url, b64url(signed.token))
        if not answer.ok:
            # unknown_key here: every key the charger trusts was pruned; no phone can help.
            reason = (
                _("The charger trusts none of the server's keys: a manager must set it up again.")
                if answer.reason == "unknown_key"
                else answer.reason_words()
            )
            self._say(
                _("Trust list {sequence} refused: {reason}").format(
                    sequence=sequence, reason=reason
                )
            )
            return
        kids = answer.body.get("trusted_keys")
        keys = len(kids) if isinstance(kids, list) else len(signed.document.keys)
        self._say(
            _("Trust list {sequence} handed to the charger: it now trusts {keys}.").format(
                sequence=sequence, keys=_server_keys(keys)
            )
        )

    def _say(self, words: str) -> None:
        with self.result:
            ui.label(words)


def _receipts(count: int) -> str:
    return ngettext("{count} receipt", "{count} receipts", count).format(count=count)


def _server_keys(count: int) -> str:
    return ngettext("{count} server key", "{count} server keys", count).format(count=count)

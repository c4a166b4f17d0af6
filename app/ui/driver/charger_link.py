"""The charger's local link, as the phone's browser speaks it.

The page asks its own browser to make each call (phone/link.js, loaded on the page): the
request goes from the phone to the charger, never from the server. What comes back is the
charger's JSON answer; the holder secret of a session stays in the browser.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from app.ui.i18n import N_, _

SCRIPTS = '<script src="/app/wallet/held.js"></script><script src="/app/wallet/link.js"></script>'
WAIT_S = 12.0  # link.js gives up on a silent charger after 8 s

REASON_WORDS = {
    "unreachable": N_("The charger did not answer: are you next to it, on its network?"),
    "malformed": N_("The charger could not read what the phone sent."),
    "too_large": N_("The charger refused it as too large."),
    "unsupported_algorithm": N_("The charger does not accept this kind of signature."),
    "unknown_key": N_(
        "The charger does not know the server's key: its trust list needs an update."
    ),
    "bad_signature": N_("The signature does not verify on the charger."),
    "wrong_device": N_("This is meant for another charger."),
    "not_yet_valid": N_("The permit's window has not started yet."),
    "expired": N_("The permit's window has ended."),
    "revoked": N_("The permit was withdrawn."),
    "superseded": N_("The charger already used this permit, or another session is active there."),
    "not_holder": N_("Only the phone that started the session (or its permit) can stop it."),
    "forbidden_origin": N_("The charger does not take requests from this site's pages."),
    "forbidden_host": N_("The charger does not answer to that address."),
    "unsupported_media_type": N_("The charger refused the request's format."),
    "not_found": N_("That address is not a PowerPermit charger's link."),
}


@dataclass(frozen=True)
class LinkAnswer:
    ok: bool
    status: int  # 0: no answer
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        reason = self.body.get("reason")
        return reason if isinstance(reason, str) else f"http_{self.status}"

    def reason_words(self) -> str:
        words = REASON_WORDS.get(self.reason)
        if words is None:
            return _("The charger said no ({reason}).").format(reason=self.reason)
        return _(words)


def load_scripts() -> None:
    """On a page that talks to chargers: the link's and the wallet's browser side."""
    ui.add_head_html(SCRIPTS)


async def send_permit(link_url: str, permit_id: str, text: str) -> LinkAnswer:
    return await _call("sendPermit", link_url, permit_id, text)


async def stop(link_url: str, permit_id: str, text: str) -> LinkAnswer:
    return await _call("stop", link_url, permit_id, text)


async def info(link_url: str) -> LinkAnswer:
    return await _call("info", link_url)


async def receipts(link_url: str) -> LinkAnswer:
    return await _call("receipts", link_url)


async def acknowledge(link_url: str, acknowledgement: str) -> LinkAnswer:
    return await _call("acknowledge", link_url, acknowledgement)


async def revocations(link_url: str, token: str) -> LinkAnswer:
    return await _call("revocations", link_url, token)


async def trust(link_url: str, token: str) -> LinkAnswer:
    return await _call("trust", link_url, token)


async def _call(function: str, *args: str) -> LinkAnswer:
    arguments = ", ".join(json.dumps(arg) for arg in args)
    try:
        result = await ui.run_javascript(
            f"return await powerpermitLink.{function}({arguments})", timeout=WAIT_S
        )
    except TimeoutError:
        return LinkAnswer(False, 0, {"reason": "unreachable"})
    return _answer(result)


def _answer(result: object) -> LinkAnswer:
    """What the browser handed back, read as untrusted: it is any JSON the page's JS sent."""
    if not isinstance(result, dict):
        return LinkAnswer(False, 0, {"reason": "unreachable"})
    status, body = result.get("status"), result.get("answer")
    return LinkAnswer(
        ok=result.get("ok") is True,
        status=status if isinstance(status, int) else 0,
        body=body if isinstance(body, dict) else {},
    )

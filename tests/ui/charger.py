"""A real charger (device.runtime.Charger) behind the page's JavaScript: the simulated
browser answers the page's link calls (phone/link.js) the way the charger's link does."""

import json
import re
from pathlib import Path
from typing import Any

from app.domain.model import Role, User
from app.services.container import Services
from app.services.devices import register_device
from device.clock import ManualClock
from device.config import init_state
from device.protocol.errors import ProtocolError
from device.protocol.keys import TrustList, b64url, raw_public
from device.protocol.possession import prove_possession
from device.runtime import Charger, NotHolder
from device.state import Store

MANAGER = User("m1", "manager", "Mia Manager", Role.MANAGER)
LINK_CALL = re.compile(r"return await powerpermitLink\.(\w+)\((.*)\)$", re.DOTALL)


class ChargerAtHand:
    """ch-1, commissioned on the server, trusting the server's keys (or `trust`), on its own
    clock."""

    def __init__(self, state_dir: Path, services: Services, trust: TrustList | None = None) -> None:
        trust = trust or TrustList.from_json(json.dumps(services.signer.jwks()))
        self.config = init_state(state_dir, "ch-1", trust)
        self.clock = ManualClock(services.clock().timestamp())
        self.store = Store(self.config.db_path)
        self.charger = Charger(self.config, self.store, self.clock)
        self.holders: dict[str, str] = {}  # what link.js keeps in the browser
        self.calls: list[str] = []

    async def register(self, services: Services) -> None:
        key = self.config.key
        proof = prove_possession("ch-1", key, int(services.clock().timestamp()))
        await register_device(
            services, MANAGER, "ch-1", "Bay 1", "site-1",
            b64url(raw_public(key.public_key)), b64url(proof),
        )  # fmt: skip

    def answer(self, call: re.Match[str]) -> dict[str, Any]:
        """What link.js resolves to for `powerpermitLink.<function>(<JSON arguments>)`."""
        function, args = call.group(1), json.loads(f"[{call.group(2)}]")
        self.calls.append(function)
        charger = self.charger
        if function == "info":
            return ok(charger.info())
        if function == "receipts":
            return ok({"receipts": charger.receipts()})
        if function == "sendPermit":
            decision = charger.present_permit(args[2].encode())
            body = decision.to_json()
            if decision.holder is not None:
                self.holders[args[1]] = decision.holder
            body.pop("holder", None)
            return refused(body) if decision.reason else ok(body)
        if function == "stop":
            try:
                holder = self.holders.get(args[1])
                stopped = charger.stop(holder=holder, permit=None if holder else args[2].encode())
            except NotHolder:
                return refused({"reason": "not_holder"})
            return ok({"stopped": stopped, **charger.info()})
        if function == "acknowledge":
            try:
                return ok({"acknowledged": charger.ack_receipts(args[1].encode())})
            except ProtocolError as err:
                return refused({"reason": err.code})
        if function == "revocations":
            result = charger.apply_revocations(args[1].encode())
            return ok(result) if result["accepted"] else refused(result)
        if function == "trust":
            result = charger.apply_trust_update(args[1].encode())
            return ok(result) if result["accepted"] else refused(result)
        raise AssertionError(f"link.js has no {function}")

    def close(self) -> None:
        self.store.close()


def ok(body: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "status": 200, "answer": body}


def refused(body: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "status": 403, "answer": body}

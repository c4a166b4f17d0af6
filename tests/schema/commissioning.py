"""What a manager sends to commission a device: its key and the device's proof of holding it."""

import time

from device.protocol import SigningKey
from device.protocol.keys import b64url, raw_public
from device.protocol.possession import prove_possession


def registration(
    key: SigningKey, device_id: str = "ch-1", issued_at: int | None = None
) -> dict[str, str]:
    """The `$key` and `$proof` variables, as `powerpermit-device prove` prints them."""
    when = int(time.time()) if issued_at is None else issued_at
    return {
        "key": b64url(raw_public(key.public_key)),
        "proof": b64url(prove_possession(device_id, key, when)),
    }

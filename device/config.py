"""The state directory: the device's identity, trust list and settings.

DIR/device.json   device id and settings: charger_max_power_w, skew_s, and for the local
                  link allowed_origins (the web origins whose pages may talk to it: the
                  server's, which serves the driver's web app) and link_hosts (the host
                  names it answers to besides IP literals and localhost)
DIR/device.key    the device's Ed25519 seed (mode 0600); receipts are signed with it
DIR/trust.json    the server keys the device trusts, as a JWK Set; its extra member
                  "sequence" is the last signed trust-list document it took (if any)
DIR/state.db      the on-device store (device/state.py)
"""

import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from device.protocol.errors import Malformed
from device.protocol.keys import KeyFileError, SigningKey, TrustList
from device.protocol.permit import DEFAULT_SKEW_S

DEFAULT_MAX_POWER_W = 11_000
DEFAULT_ORIGIN = "http://127.0.0.1:8000"  # the demo server (`make run`)
MAX_TRUST_LIST_BYTES = 64 * 1024


class StateError(Exception):
    """The state directory is missing, incomplete or belongs to another device."""


@dataclass(frozen=True)
class DeviceConfig:
    state_dir: Path
    device_id: str
    key: SigningKey
    trust: TrustList
    charger_max_power_w: float = DEFAULT_MAX_POWER_W
    skew_s: int = DEFAULT_SKEW_S
    allowed_origins: tuple[str, ...] = (DEFAULT_ORIGIN,)
    link_hosts: tuple[str, ...] = ()
    trust_sequence: int | None = None  # of the signed trust-list document it holds

    @property
    def db_path(self) -> Path:
        return self.state_dir / "state.db"


def read_trust_source(source: str) -> TrustList:
    """A JWK Set from a file path or an http(s) URL such as the server's permit-keys."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:  # noqa: S310
            text = response.read(MAX_TRUST_LIST_BYTES + 1).decode("utf-8")
    else:
        text = Path(source).read_text(encoding="utf-8")
    if len(text) > MAX_TRUST_LIST_BYTES:
        raise Malformed("trust list too large")
    trust = TrustList.from_json(text)
    if not len(trust):
        raise Malformed("trust list holds no keys")
    return trust


def init_state(state_dir: Path, device_id: str, trust: TrustList) -> DeviceConfig:
    """Create (or refresh the trust list of) a device state directory; keeps an existing key."""
    if not device_id or len(device_id) > 64:
        raise StateError("device id must be 1 to 64 characters")
    settings_path = state_dir / "device.json"
    if settings_path.exists():
        existing = json.loads(settings_path.read_text(encoding="utf-8"))
        if existing.get("device_id") != device_id:
            raise StateError(f"{state_dir} belongs to device {existing.get('device_id')!r}")
    else:
        state_dir.mkdir(parents=True, exist_ok=True)
        settings = {"device_id": device_id, "charger_max_power_w": DEFAULT_MAX_POWER_W}
        settings_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    SigningKey.load_or_create(state_dir / "device.key")
    # A trust file set by hand keeps the sequence already taken: an older signed document
    # must not become acceptable again because someone refreshed the file.
    write_trust(state_dir, trust, _held_sequence(state_dir / "trust.json"))
    return load_config(state_dir)


def write_trust(state_dir: Path, trust: TrustList, sequence: int | None) -> None:
    """Replace trust.json durably: keys and sequence change together or not at all."""
    document = {**trust.to_jwks(), **({} if sequence is None else {"sequence": sequence})}
    tmp = state_dir / "trust.json.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(document, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(state_dir / "trust.json")
    directory = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)


def _held_sequence(path: Path) -> int | None:
    try:
        sequence = json.loads(path.read_text(encoding="utf-8")).get("sequence")
    except (OSError, ValueError, AttributeError):
        return None
    return sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None


def load_config(state_dir: Path) -> DeviceConfig:
    try:
        settings = json.loads((state_dir / "device.json").read_text(encoding="utf-8"))
        trust_text = (state_dir / "trust.json").read_text(encoding="utf-8")
        trust = TrustList.from_json(trust_text)
        trust_sequence = json.loads(trust_text).get("sequence")
        if trust_sequence is not None and (
            not isinstance(trust_sequence, int) or isinstance(trust_sequence, bool)
        ):
            raise Malformed("trust.json: sequence must be an integer")
        key_path = state_dir / "device.key"
        if not key_path.exists():
            raise StateError(f"{key_path} is missing")
        key = SigningKey.load(key_path)
    except KeyFileError as err:
        raise StateError(str(err)) from err  # says which file and how to fix it
    except (OSError, ValueError, Malformed) as err:
        raise StateError(f"{state_dir} is not an initialised device state: {err}") from err
    return DeviceConfig(
        state_dir=state_dir,
        device_id=str(settings["device_id"]),
        key=key,
        trust=trust,
        charger_max_power_w=float(settings.get("charger_max_power_w", DEFAULT_MAX_POWER_W)),
        skew_s=int(settings.get("skew_s", DEFAULT_SKEW_S)),
        allowed_origins=_strings(settings, "allowed_origins", (DEFAULT_ORIGIN,)),
        link_hosts=_strings(settings, "link_hosts", ()),
        trust_sequence=trust_sequence,
    )


def _strings(settings: dict[str, object], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = settings.get(key, default)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise StateError(f"device.json: {key} must be a list of strings")
    return tuple(value)

"""`powerpermit-device`: init, prove, verify, run and scan. Every command prints one JSON line."""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from device.clock import RealClock, parse_iso
from device.config import (
    DeviceConfig,
    StateError,
    init_state,
    load_config,
    read_trust_source,
)
from device.link import DEFAULT_PORT
from device.protocol.errors import ProtocolError
from device.protocol.keys import b64url, raw_public
from device.protocol.possession import prove_possession
from device.runtime import Charger, session_from_stored
from device.service import run, running_url, state_lock
from device.state import Store
from device.verifier import Decision, evaluate

MAX_INPUT = 64 * 1024


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (StateError, ProtocolError, OSError, ValueError, ImportError) as err:
        _print({"error": type(err).__name__, "message": str(err)}, stream=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="powerpermit-device", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create the device's state directory")
    init.add_argument("--state", type=Path, required=True)
    init.add_argument("--device-id", required=True)
    init.add_argument("--trust", required=True, help="JWK Set file or URL (permit-keys)")
    init.set_defaults(handler=_init)

    prove = commands.add_parser("prove", help="a fresh proof that the device holds its key")
    prove.add_argument("--state", type=Path, required=True)
    prove.set_defaults(handler=_prove)

    verify = commands.add_parser("verify", help="dry run: would the device accept PERMIT?")
    verify.add_argument("--state", type=Path, required=True)
    verify.add_argument("--at", help="ISO 8601 time standing in for the wall clock")
    verify.add_argument("permit", help="file with raw bytes or PP1: text, or - for stdin")
    verify.set_defaults(handler=_verify)

    run_cmd = commands.add_parser("run", help="run the charger and its local link")
    run_cmd.add_argument("--state", type=Path, required=True)
    run_cmd.add_argument("--host", default="127.0.0.1")
    run_cmd.add_argument("--port", type=int, default=DEFAULT_PORT)
    run_cmd.add_argument("--clock", choices=("real", "sim"), default="real")
    run_cmd.add_argument("--speed", type=float, default=1.0, help="sim clock: seconds per second")
    run_cmd.add_argument(
        "--clock-offset-file",
        type=Path,
        default=None,
        help="tests and demos: run the clock ahead by the seconds written in this file "
        "(re-read when it changes; forward only)",
    )
    run_cmd.add_argument(
        "--origin",
        action="append",
        default=[],
        help="a web origin whose pages may use the link, besides device.json's (repeatable)",
    )
    run_cmd.add_argument(
        "--link-host",
        action="append",
        default=[],
        help="a host name the link answers to, besides IP literals and localhost (repeatable)",
    )
    run_cmd.add_argument("--tick", type=float, default=0.5, help="real seconds between ticks")
    run_cmd.set_defaults(handler=_run)

    scan = commands.add_parser("scan", help="read a permit QR code from a picture and present it")
    scan.add_argument("--state", type=Path, required=True)
    scan.add_argument("image", type=Path)
    scan.set_defaults(handler=_scan)
    return parser


def _print(data: dict[str, Any], stream: Any = None) -> None:
    print(json.dumps(data), file=stream or sys.stdout, flush=True)


def _init(args: argparse.Namespace) -> int:
    config = init_state(args.state, args.device_id, read_trust_source(args.trust))
    Store(config.db_path).close()
    _print(_registration(config))
    return 0


def _prove(args: argparse.Namespace) -> int:
    _print(_registration(load_config(args.state)))
    return 0


def _registration(config: DeviceConfig) -> dict[str, Any]:
    """What a manager hands to `registerDevice`: the public key and a proof of holding it."""
    proof = prove_possession(config.device_id, config.key, int(time.time()))
    return {
        "device_id": config.device_id,
        "public_key": b64url(raw_public(config.key.public_key)),
        "proof": b64url(proof),
    }


def _verify(args: argparse.Namespace) -> int:
    config = load_config(args.state)
    if args.permit == "-":
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        with open(args.permit, "rb") as handle:
            data = handle.read(MAX_INPUT + 1)
    wall = parse_iso(args.at) if args.at else time.time()
    store = Store(config.db_path)
    try:
        floor = max(float(store.get("trusted_time", 0.0)), float(store.get("newest_iat", 0)))
        stored = store.load_session()
        decision = evaluate(
            data,
            device_id=config.device_id,
            trust=config.trust,
            now=max(wall, floor),
            revoked=store.revoked_ids(),
            skew_s=config.skew_s,
            is_used=store.is_used,
            active=None if stored is None else session_from_stored(stored).claims,
        )
    finally:
        store.close()
    return _decided(decision.to_json())


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.state)
    return run(
        config,
        host=args.host,
        port=args.port,
        clock_kind=args.clock,
        speed=args.speed,
        clock_offset_file=args.clock_offset_file,
        origins=tuple(args.origin),
        link_hosts=tuple(args.link_host),
        tick_s=args.tick,
    )


def _scan(args: argparse.Namespace) -> int:
    from device.scan import read_qr_text

    config = load_config(args.state)
    text = read_qr_text(args.image)
    if text is None:
        return _decided({"accepted": False, "reason": "malformed", "message": "no QR code found"})
    url = running_url(args.state)
    if url is not None:
        return _decided(_post(url + "/link/permit", json.dumps({"permit": text}).encode()))
    with state_lock(args.state):
        store = Store(config.db_path)
        try:
            decision: Decision = Charger(config, store, RealClock()).present_permit(text.encode())
        finally:
            store.close()
    return _decided(decision.to_json())


def _post(url: str, body: bytes) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as err:
        result = json.loads(err.read())
    return result


def _decided(result: dict[str, Any]) -> int:
    _print(result)
    return 0 if result.get("accepted") else 1


if __name__ == "__main__":
    sys.exit(main())

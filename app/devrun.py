"""`make run`: migrate, seed the demo site, start the server and one simulated charger.

Prints the URLs and demo logins, then runs until Ctrl-C.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app.cli import migrate, seed_demo
from app.domain.model import Role, User
from app.services.container import build_services
from app.services.devices import register_device
from app.settings import Settings
from app.store.database import DatabaseFileError
from device.protocol.keys import KeyFileError

HOST, PORT, DEVICE_PORT = "127.0.0.1", 8000, 8410
DEMO_DEVICE = "ch-1"
DEV_LOGS = ("--log-format", "text")  # readable in a terminal; production logs JSON lines


def commission_device(settings: Settings) -> Path:
    """Give the demo charger its own key and trust list, and register its key on the server."""
    state = settings.data_dir / "devices" / DEMO_DEVICE
    services = build_services(settings)
    trust_file = settings.data_dir / "permit-keys.json"
    trust_file.write_text(json.dumps(services.signer.jwks()))
    public_key_file = settings.data_dir / "devices" / f"{DEMO_DEVICE}.pub"
    if not public_key_file.exists():
        shutil.rmtree(state, ignore_errors=True)  # a half-made state from an interrupted run
        init = subprocess.run(
            [
                _tool("powerpermit-device"),
                "init",
                "--state",
                str(state),
                "--device-id",
                DEMO_DEVICE,
                "--trust",
                str(trust_file),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        public_key_file.write_text(json.loads(init.stdout)["public_key"])
    # A fresh proof that the charger holds its key, as a technician would bring it.
    proved = subprocess.run(
        [_tool("powerpermit-device"), "prove", "--state", str(state)],
        check=True,
        capture_output=True,
        text=True,
    )
    registration = json.loads(proved.stdout)
    manager = User("m1", "manager", "Mia Manager", Role.MANAGER)
    asyncio.run(
        register_device(
            services,
            manager,
            DEMO_DEVICE,
            "Bay 1",
            "site-1",
            registration["public_key"],
            registration["proof"],
            link_url=f"http://{HOST}:{DEVICE_PORT}",
        )
    )
    services.db.engine.dispose()
    return state


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _wait_for(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout_s:.0f} s")


def main() -> None:
    settings = Settings.from_env()
    try:
        print("• migrating", settings.database_url)
        migrate(settings)
        print("• seeding the demo site")
        demo = seed_demo(settings)
        print("• commissioning the simulated charger", DEMO_DEVICE)
        state = commission_device(settings)
    except (KeyFileError, DatabaseFileError) as err:
        raise SystemExit(f"powerpermit: {err}") from None

    env = {**os.environ, "POWERPERMIT_DATA_DIR": str(settings.data_dir)}
    server = subprocess.Popen(
        [_tool("powerpermit"), "serve", "--host", HOST, "--port", str(PORT), *DEV_LOGS], env=env
    )
    charger = subprocess.Popen(
        [
            _tool("powerpermit-device"),
            "run",
            "--state",
            str(state),
            "--host",
            HOST,
            "--port",
            str(DEVICE_PORT),
            # The driver's page posts permits from the browser: the charger answers the
            # server's web origin, under either name a browser may have opened it by.
            "--origin",
            f"http://{HOST}:{PORT}",
            "--origin",
            f"http://localhost:{PORT}",
        ]
    )
    try:
        _wait_for(f"http://{HOST}:{PORT}/healthz")
        print(f"""
PowerPermit is running.
  Manager console  http://{HOST}:{PORT}/manage   (sign in as the manager below)
  Driver app       http://{HOST}:{PORT}/app      (sign in as a user below; laid out for a phone)
  GraphQL API      http://{HOST}:{PORT}/graphql  (GraphiQL in a browser at the same address)
  Permit keys      http://{HOST}:{PORT}/.well-known/permit-keys
  Charger {DEMO_DEVICE}     http://{HOST}:{DEVICE_PORT}/link/info   (its local link)

Demo logins (sign in to the pages with login and password; to the API, send the token
as 'Authorization: Bearer <token>'):""")
        for key in ("manager", "user", "user2"):
            account = demo[key]
            assert isinstance(account, dict)
            print(
                f"  {key:8} login={account['login']:8} password={account['password']}"
                f"  token={account['token']}"
            )
        print("\nPress Ctrl-C to stop.")
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in (charger, server):
            process.send_signal(signal.SIGINT)
        for process in (charger, server):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()

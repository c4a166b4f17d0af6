"""A live server for the OAuth2 tests: the demo site, a foreign site, two registered clients
(a machine client and a public app), and the server's own access-token key set for forging
tokens the way an attacker who knows the format would."""

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from app.auth.access_tokens import REGISTRY
from app.services.container import build_services
from app.settings import Settings
from tests.http.live import ROOT, ServerProcess, free_port, powerpermit, prepare, server_env
from tests.schema.foreign_site import add_foreign_site

MACHINE_SCOPES = "requests:read requests:write requests:decide"
APP_SCOPES = "requests:read requests:write"
ME = "{ me { id login role } }"


@dataclass
class OAuthStack:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    accounts: dict[str, Any]  # prepare()'s demo summary
    machine: dict[str, str]  # client_id, client_secret
    app: dict[str, str]  # client_id (public)
    callback: str  # the app's redirect URI (nothing listens: the browser test catches it)
    server: ServerProcess

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def issuer(self) -> str:
        return self.base_url

    def keys(self) -> KeySet:
        path = self.data_dir / "keys" / "access-tokens.jwks.json"
        return KeySet.import_key_set(json.loads(path.read_text()))

    def forge(self, claims: dict[str, Any], **header: Any) -> str:
        """A token signed with the server's own key (as only the server could)."""
        key = self.keys().keys[0]
        head = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt", **header}
        return jwt.encode(head, claims, key, registry=REGISTRY)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            powerpermit(*args), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )

    def graphql(self, token: str, query: str = ME, variables: Any = None) -> httpx.Response:
        return httpx.post(
            self.url("/graphql"),
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )


def start_stack(data_dir: Path) -> OAuthStack:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**server_env(data_dir), "POWERPERMIT_PUBLIC_URL": base_url}
    accounts = prepare(data_dir, env)
    services = build_services(Settings(data_dir, env["DATABASE_URL"]))
    try:
        services.db.run_sync(lambda conn: add_foreign_site(conn, datetime.now(UTC)))
    finally:
        services.db.engine.dispose()
    callback = f"http://127.0.0.1:{free_port()}/callback"
    server = ServerProcess(data_dir, port, data_dir / "server.log", env=env)
    stack = OAuthStack(base_url, data_dir, env, accounts, {}, {}, callback, server)
    stack.machine = _create(stack, "Fleet", "--scopes", MACHINE_SCOPES)
    stack.app = _create(stack, "Phone app", "--scopes", APP_SCOPES, "--public")
    server.start()
    return stack


def _create(stack: OAuthStack, name: str, *args: str) -> dict[str, str]:
    done = stack.cli(
        "client", "create", "--name", name, "--site", "site-1", *args,
        "--redirect-uri", stack.callback, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    created: dict[str, str] = json.loads(done.stdout)
    return created

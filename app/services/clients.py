"""What `powerpermit client create|list|revoke` does, checked first so that bad input
changes nothing.

A client is registered for one site and acts through its own service account: a manager
of that site with no password (login `client:<client_id>`), so a client-credentials token
passes the same access checks as that site's managers, narrowed by its scopes. Its secret
is 32 random bytes, shown once and stored as SHA-256 (a secret that long needs no slow
hash, and the token endpoint stays cheap).
"""

import hmac
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from app.domain import scopes as scope_names
from app.domain.model import Role, User
from app.services.accounts import hash_token
from app.services.container import Services
from app.services.withdrawals import LONGEST_ACCESS_TOKEN, withdraw
from app.store import oauth as store
from app.store import tables as t
from app.store import user_admin
from app.store.repositories import Sites, Users


class ClientAdminError(Exception):
    """Bad input for a client command; nothing was changed."""


def hash_secret(secret: str) -> str:
    # A 32-byte random secret needs no slow hash: SHA-256, as for the bearer tokens.
    return hash_token(secret)


def secret_matches(secret_hash: str | None, secret: str) -> bool:
    return secret_hash is not None and hmac.compare_digest(secret_hash, hash_secret(secret))


def service_login(client_id: str) -> str:
    return f"client:{client_id}"


def _redirect_uri(uri: str) -> str:
    """An absolute http(s) address without a fragment (RFC 6749 §3.1.2); http only on
    loopback, where a native app listens for its answer (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.fragment or not parts.netloc or parts.scheme not in ("https", "http"):
        raise ClientAdminError(f"redirect URI {uri!r} must be an absolute https URL")
    if parts.scheme == "http" and not loopback:
        raise ClientAdminError(f"redirect URI {uri!r}: http only on loopback, else https")
    return uri


async def create_client(
    services: Services,
    name: str,
    site_id: str,
    scopes: str,
    redirect_uris: list[str],
    public: bool = False,
) -> tuple[store.ClientRow, str | None]:
    """The new client and its secret (None for a public client): the only time the secret
    is known to anyone but its holder."""
    name = name.strip()
    if not name:
        raise ClientAdminError("the client's name must not be empty")
    try:
        granted = scope_names.parse(scopes)
    except ValueError as err:
        raise ClientAdminError(str(err)) from None
    if not granted:
        raise ClientAdminError(f"name at least one scope of: {' '.join(scope_names.ALL)}")
    uris = tuple(dict.fromkeys(_redirect_uri(uri) for uri in redirect_uris))
    if public and not uris:
        raise ClientAdminError("a public client needs a redirect URI (--redirect-uri)")
    client_id = "c-" + secrets.token_hex(12)
    secret = None if public else secrets.token_urlsafe(32)
    now = services.clock()
    row = store.ClientRow(
        client_id=client_id,
        secret_hash=None if secret is None else hash_secret(secret),
        name=name,
        site_id=site_id,
        scopes=" ".join(s for s in scope_names.ALL if s in granted),
        redirect_uris=uris,
        service_user_id="u-" + secrets.token_hex(8),
        created_at=now,
        revoked_at=None,
    )
    account = User(row.service_user_id, service_login(client_id), name, Role.MANAGER)

    def work(conn: Connection) -> None:
        if not user_admin.site_exists(conn, site_id):
            raise ClientAdminError(f"no site {site_id!r}")
        if store.name_taken(conn, site_id, name):
            raise ClientAdminError(f"site {site_id!r} already has a client named {name!r}")
        Users(conn).add(account)  # no password: it never signs in, it only holds tokens
        Sites(conn).add_person(site_id, account.id, t.site_managers)
        Sites(conn).add_person(site_id, account.id, t.site_members)
        store.add_client(conn, row)

    await services.db.write(work)
    return row, secret


async def list_clients(services: Services) -> list[store.ClientRow]:
    return await services.db.read(store.clients)


async def revoke_client(services: Services, client_id: str) -> int:
    """Ends the client: no new tokens, its refresh tokens revoked, and its access tokens
    refused at once in every server process. Returns how many refresh tokens ended."""
    now = services.clock()

    def work(conn: Connection) -> int:
        found = store.client(conn, client_id)
        if found is None:
            raise ClientAdminError(f"no client {client_id!r}")
        if found.revoked_at is not None:
            raise ClientAdminError(f"client {client_id!r} was revoked already")
        return store.revoke_client(conn, client_id, now)

    ended = await services.db.write(work)
    await withdraw(services, "client", client_id, until(now))
    return ended


def until(now: datetime) -> datetime:
    """When a client's withdrawal stops mattering: every token issued before it expired."""
    return now + LONGEST_ACCESS_TOKEN

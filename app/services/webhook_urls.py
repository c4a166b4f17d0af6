"""Webhook URLs may not make this server probe its own network (SSRF).

A URL must be https, and every address its host resolves to must be a public one: no
loopback, private, link-local, shared, reserved or multicast address. Checked when the
subscription is made and again at every delivery, since DNS answers can change; the
delivery then connects to the very address it checked (the TLS name stays the host's),
so a second lookup cannot slip in another one. Settings.webhook_allow_private lifts both
rules, for tests and for a receiver on the same host.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from app.services.errors import Invalid

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_S = 5.0


class Refused(Invalid):
    """The URL is not one the server may post to."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is link-local
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _parts(url: str, allow_private: bool) -> tuple[str, str, int]:
    """Scheme, host and port of an acceptable URL, or Refused saying what is wrong."""
    if len(url) > MAX_URL_LENGTH or not url.isprintable() or " " in url:
        raise Refused(f"A webhook URL is at most {MAX_URL_LENGTH} printable characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise Refused(f"Not a URL: {err}.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise Refused("A webhook URL must be https://host/...")
    if parts.username is not None or parts.password is not None:
        raise Refused("A webhook URL may not carry credentials; the signature proves the sender.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def _addresses(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        raise Refused(f"The host {host!r} does not resolve.") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def _public_addresses(host: str, port: int) -> list[str]:
    addresses = await _addresses(host, port)
    if not addresses or not all(is_public(a) for a in addresses):
        raise Refused(
            f"The host {host!r} resolves to an address of a private network; "
            "webhooks go to public addresses only."
        )
    return addresses


async def check_url(url: str, allow_private: bool) -> str:
    """The URL as given, once it is acceptable; Refused (an Invalid) otherwise."""
    _, host, port = _parts(url.strip(), allow_private)
    if not allow_private:
        await _public_addresses(host, port)
    return url.strip()


@dataclass(frozen=True)
class Target:
    """What the sender connects to: the URL with its checked address in place of the host,
    the Host header, and the TLS server name (httpx's `sni_hostname` extension)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


async def target(url: str, allow_private: bool) -> Target:
    scheme, host, port = _parts(url, allow_private)
    if allow_private:
        return Target(url)
    address = (await _public_addresses(host, port))[0]
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{port}"
    pinned = urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    named = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    host_header = named if parts.port is None else f"{named}:{port}"
    return Target(pinned, {"Host": host_header}, {"sni_hostname": host})

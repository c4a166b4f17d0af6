"""OAuth2 scopes: what a third party's access token may do with the API.

A token never grants more than both its client and its user hold: the scopes narrow what
the user's role allows, they never widen it.
"""

REQUESTS_READ = "requests:read"  # see usage requests, devices, revocation and trust lists
REQUESTS_WRITE = "requests:write"  # ask for a slot, cancel it, collect its permit
REQUESTS_DECIDE = "requests:decide"  # approve, reject, revoke; a site's approval rules
DEVICES_MANAGE = "devices:manage"  # register and edit chargers
RECEIPTS_WRITE = "receipts:write"  # bring chargers' receipts and confirmations home

ALL: tuple[str, ...] = (
    REQUESTS_READ,
    REQUESTS_WRITE,
    REQUESTS_DECIDE,
    DEVICES_MANAGE,
    RECEIPTS_WRITE,
)


def parse(text: str) -> frozenset[str]:
    """A space-separated scope string (RFC 6749 §3.3) as a set; unknown names raise."""
    scopes = frozenset(text.split())
    unknown = scopes - set(ALL)
    if unknown:
        raise ValueError(f"unknown scopes: {' '.join(sorted(unknown))}")
    return scopes

"""The one table of what an OAuth2 access token needs for each operation of the API.

Every root field of Query, Mutation and Subscription has a row (keyed by its GraphQL
name): the scope a token must hold (app/domain/scopes.py), or ANYONE, or FIRST_PARTY.
A first-party principal (a session, a login token: `User.scopes is None`) passes every
row; a scope only ever narrows what the person's role and sites allow, which the services
still check. A root field without a row is refused to every access token (fail closed),
and tests/schema/test_authorization_matrix.py fails for it. docs/api-access.md shows
this table to integrators; a test keeps the two equal.
"""

from enum import Enum

from app.domain import scopes


class Open(Enum):
    ANYONE = "anyone"  # no scope needed, even anonymous
    FIRST_PARTY = "first-party only"  # no access token may, whatever its scopes


Requirement = str | Open

OPERATION_SCOPES: dict[str, Requirement] = {
    # Queries
    "me": Open.ANYONE,  # who the token acts for: a client needs it to know itself
    "devices": scopes.REQUESTS_READ,
    "device": scopes.REQUESTS_READ,
    "usageRequests": scopes.REQUESTS_READ,
    "usageRequest": scopes.REQUESTS_READ,
    # Signed lists a phone carries to a device: reading them is reading the site's state.
    "revocationList": scopes.REQUESTS_READ,
    "trustList": scopes.REQUESTS_READ,
    # Webhooks carry a site's request events to an integrator: reading by another road,
    # so the scope that reads requests; the site's managers only, as the service checks.
    "webhooks": scopes.REQUESTS_READ,
    # Mutations
    "login": Open.ANYONE,  # trades a password for a token: holding a token adds nothing
    "requestUsage": scopes.REQUESTS_WRITE,
    "cancelUsageRequest": scopes.REQUESTS_WRITE,
    "collectPermit": scopes.REQUESTS_WRITE,
    "approveUsageRequest": scopes.REQUESTS_DECIDE,
    "rejectUsageRequest": scopes.REQUESTS_DECIDE,
    "revokeUsageRequest": scopes.REQUESTS_DECIDE,
    "revokePermit": scopes.REQUESTS_DECIDE,
    "updateSitePolicy": scopes.REQUESTS_DECIDE,  # the rules that decide for the manager
    "registerDevice": scopes.DEVICES_MANAGE,
    "updateCharger": scopes.DEVICES_MANAGE,
    "submitReceipts": scopes.RECEIPTS_WRITE,
    # A device's signed word riding home like a receipt, not a decision of the caller's.
    "confirmRevocations": scopes.RECEIPTS_WRITE,
    "createWebhook": scopes.REQUESTS_READ,
    "deleteWebhook": scopes.REQUESTS_READ,
    # Changes the person's own account (the pages' language), not the API's data.
    "setMyLanguage": Open.FIRST_PARTY,
    # Subscriptions
    "usageRequestUpdated": scopes.REQUESTS_READ,
    # The stream of requests waiting for a decision: only of use to who may decide them.
    "approvalQueue": scopes.REQUESTS_DECIDE,
}


def requirement(operation: str) -> Requirement:
    """The row for `operation`; an operation nobody gave a row is first-party only."""
    return OPERATION_SCOPES.get(operation, Open.FIRST_PARTY)

"""GraphQL documents the schema tests share."""

REQUEST_FIELDS = """
  id status startsAt endsAt durationMinutes userId energyWh
  device { id name }
  decision { outcome reasons { code message } }
  permit { id token qrText notBefore expiresAt revoked }
"""

REQUEST_USAGE = f"""
mutation Ask($device: ID!, $start: DateTime!, $minutes: Int!) {{
  requestUsage(input: {{deviceId: $device, startsAt: $start, durationMinutes: $minutes}}) {{
    __typename
    ... on UsageRequest {{ {REQUEST_FIELDS} }}
    ... on RequestDenied {{ reasons {{ code message }} }}
  }}
}}
"""

DECISION_FIELDS = f"""
    __typename
    ... on UsageRequest {{ {REQUEST_FIELDS} }}
    ... on NotFound {{ message id }}
    ... on NotAllowed {{ message }}
    ... on InvalidTransition {{ message currentStatus }}
"""

APPROVE = f"mutation ($id: ID!) {{ approveUsageRequest(id: $id) {{ {DECISION_FIELDS} }} }}"
REJECT = (
    f"mutation ($id: ID!, $reason: String!) "
    f"{{ rejectUsageRequest(id: $id, reason: $reason) {{ {DECISION_FIELDS} }} }}"
)
CANCEL = f"mutation ($id: ID!) {{ cancelUsageRequest(id: $id) {{ {DECISION_FIELDS} }} }}"
REVOKE = """
mutation ($id: ID!, $reason: String!) {
  revokePermit(permitId: $id, reason: $reason) {
    __typename
    ... on RevokedPermit { permit { id revoked } usageRequest { id status } }
    ... on NotFound { message }
    ... on NotAllowed { message }
    ... on InvalidTransition { message currentStatus }
  }
}
"""
GET_REQUEST = f"query ($id: ID!) {{ usageRequest(id: $id) {{ {REQUEST_FIELDS} }} }}"
LIST_REQUESTS = f"""
query ($first: Int!, $after: String, $status: RequestStatus) {{
  usageRequests(first: $first, after: $after, status: $status) {{
    edges {{ cursor node {{ {REQUEST_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

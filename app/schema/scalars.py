"""DateTime that insists on a UTC offset: a naive time is ambiguous across time zones."""

from datetime import datetime

import strawberry
from graphql import GraphQLError


def _parse(value: object) -> datetime:
    if not isinstance(value, str):
        raise GraphQLError("DateTime must be an ISO 8601 string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise GraphQLError(f"DateTime {value!r} is not ISO 8601.") from err
    if parsed.tzinfo is None:
        raise GraphQLError(f"DateTime {value!r} needs a UTC offset, e.g. 2026-01-01T09:00:00Z.")
    return parsed


AwareDateTime = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 date and time with a UTC offset.",
    serialize=lambda value: value.isoformat(),
    parse_value=_parse,
)

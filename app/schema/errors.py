"""Typed failures returned in result unions instead of bare GraphQL errors."""

import strawberry

from app.schema.types import Reason


@strawberry.type(description="The request was refused; every failing rule is listed.")
class RequestDenied:
    reasons: list[Reason]


@strawberry.type
class NotFound:
    message: str
    id: strawberry.ID


@strawberry.type
class NotAllowed:
    message: str


@strawberry.type
class InvalidTransition:
    message: str
    current_status: str


@strawberry.type
class InvalidInput:
    message: str

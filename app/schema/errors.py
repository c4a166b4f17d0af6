"""Typed failures returned in result unions instead of bare GraphQL errors."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from app.domain.errors import InvalidTransition as DomainInvalidTransition
from app.schema.types import Reason
from app.services.errors import Invalid as InvalidError
from app.services.errors import NotAllowed as NotAllowedError
from app.services.errors import NotFound as NotFoundError

T = TypeVar("T")


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


Failure = NotFound | NotAllowed | InvalidTransition | InvalidInput
FAILURES = (NotFound, NotAllowed, InvalidTransition, InvalidInput)


async def attempt(call: Callable[[], Awaitable[T]], id: str) -> T | Failure:
    """Run a use case; its expected failures come back as typed results, not exceptions."""
    try:
        return await call()
    except NotFoundError as err:
        return NotFound(message=str(err), id=strawberry.ID(err.id or id))
    except NotAllowedError as err:
        return NotAllowed(message=str(err))
    except DomainInvalidTransition as err:
        return InvalidTransition(message=str(err), current_status=err.current)
    except InvalidError as err:
        return InvalidInput(message=str(err))

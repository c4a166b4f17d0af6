"""Masking stays whole on the cheap path: a subscription message with an unexpected error
is masked, one without errors passes untouched (app/schema/mask_errors.py)."""

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from app.schema.mask_errors import MaskErrorsCheaply


def _unexpected(error: GraphQLError) -> bool:
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        yield 1
        raise RuntimeError("the database password is hunter2")


schema = strawberry.Schema(
    query=Query,
    subscription=Subscription,
    extensions=[lambda: MaskErrorsCheaply(should_mask_error=_unexpected)],
)


async def test_an_unexpected_error_in_a_stream_is_masked_and_a_clean_message_is_not() -> None:
    stream = await schema.subscribe("subscription { ticks }")
    assert not isinstance(stream, ExecutionResult)
    first = await anext(stream)
    assert first.data == {"ticks": 1} and not first.errors
    second = await anext(stream)
    assert second.errors is not None
    assert [error.message for error in second.errors] == ["Unexpected error."]

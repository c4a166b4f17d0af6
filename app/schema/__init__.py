"""The GraphQL schema, with parser and validation caches and masked unexpected errors."""

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.types import ExecutionContext

from app.observability.graphql import OperationMetrics
from app.schema.document_cache import DocumentCache, Documents
from app.schema.limits import OneLoginPerRequest
from app.schema.mask_errors import MaskErrorsCheaply
from app.schema.mutations import Mutation
from app.schema.permissions import require_scopes
from app.schema.queries import Query
from app.schema.rate_limits import RateLimits
from app.schema.scalars import AwareDateTime
from app.schema.shared_results import SharingExecutor
from app.schema.subscriptions import Subscription


def _unexpected(error: GraphQLError) -> bool:
    """An exception nobody raised on purpose: masked for the client, logged for us.
    GraphQLErrors (validation, permissions, our own input errors) reach the client as is."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


# Built once: a rule class made per request (as QueryDepthLimiter does) would be a new
# validation rule every time.
MAX_DEPTH_RULE = create_validator(max_depth=10, should_ignore=None)
DOCUMENTS = Documents(maxsize=256)


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only what nobody meant to happen; refusals and bad input are the client's."""
        unexpected = [error for error in errors if _unexpected(error)]
        super().process_errors(unexpected, execution_context)


# Every root field, whoever adds it, checks an access token's scopes (operation_scopes.py).
require_scopes(Query, Mutation, Subscription)
schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    scalar_overrides={datetime: AwareDateTime},
    execution_context_class=SharingExecutor,  # subscribers share a result per event
    extensions=[
        lambda: DocumentCache(DOCUMENTS, (MAX_DEPTH_RULE, OneLoginPerRequest)),
        lambda: MaskErrorsCheaply(should_mask_error=_unexpected),  # see mask_errors.py
        RateLimits,  # a refused mutation executes nothing (app/schema/rate_limits.py)
        OperationMetrics,  # /metrics: operations by root field and outcome, subscriptions
    ],
)

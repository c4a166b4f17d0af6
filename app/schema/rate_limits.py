"""Rate limits on mutations, checked after validation and before anything executes.

Every mutation is charged to its principal (the signed-in user, or the OAuth2 client a
token was issued to) and to its address; one that tries `login` also to the address's
login bucket. A refused request executes nothing: its answer is one GraphQL error with
extensions {code: RATE_LIMITED, retryAfter: seconds}, and over HTTP a 429 carrying the
same seconds as Retry-After (app/schema/http.py keeps that status).
Queries and subscriptions are bounded by the document limits (app/schema/limits.py).
"""

from collections.abc import Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    get_operation_ast,
)
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.domain.model import User
from app.schema.context import Context
from app.schema.limits import _logins
from app.services.errors import RateLimited
from app.services.rate_limits import Rule, retry_after_seconds

RATE_LIMITED = "RATE_LIMITED"


def principal_key(user: User) -> str:
    """A token issued to an OAuth2 client counts against that client, whoever it acts for."""
    return f"client:{user.client_id}" if user.client_id else f"user:{user.id}"


def address_of(context: Context) -> str | None:
    """The peer's address (uvicorn puts a trusted proxy's X-Forwarded-For there)."""
    request = context.request
    if isinstance(request, HTTPConnection) and request.client is not None:
        return request.client.host
    return None


class RateLimits(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        if (
            execution.operation_type is OperationType.MUTATION
            and isinstance(context, Context)
            and execution.graphql_document is not None
        ):
            try:
                context.services.limits.check_all(*self._charges(context))
            except RateLimited as refused:
                execution.result = ExecutionResult(data=None, errors=[_error(refused)])
                _answer_429(context.response, refused)
        yield

    def _charges(self, context: Context) -> list[tuple[str, Rule]]:
        limits = context.services.limits
        rules = limits.rules
        charges: list[tuple[str, Rule]] = []
        if context.user is not None:
            charges.append(
                ("mutation:" + principal_key(context.user), rules.mutations_per_principal)
            )
        address = address_of(context)
        if address is not None:
            charges.append((f"mutation:address:{address}", rules.mutations_per_address))
            if self._tries_login():
                charges.append((f"login:address:{address}", rules.login_per_address))
        return charges

    def _tries_login(self) -> bool:
        execution = self.execution_context
        document = execution.graphql_document
        assert document is not None
        operation = get_operation_ast(document, execution.operation_name)
        if operation is None:
            return False
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return _logins(operation.selection_set, fragments, set()) > 0


def _error(refused: RateLimited) -> GraphQLError:
    return GraphQLError(
        str(refused),
        extensions={"code": RATE_LIMITED, "retryAfter": retry_after_seconds(refused)},
    )


def _answer_429(response: Any, refused: RateLimited) -> None:
    """Over HTTP the sub-response's status and headers become the answer's."""
    if isinstance(response, Response):
        response.status_code = 429
        response.headers["Retry-After"] = str(retry_after_seconds(refused))

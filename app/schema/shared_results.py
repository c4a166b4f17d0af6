"""Subscribers with the same selection share one execution result per event.

graphql-core executes a subscription's selection set once per subscriber and event, with
the event's payload as the root value. A payload passed through `share(value)` is marked:
the first subscriber to execute an operation on it (the same parsed document, the same
variables) keeps the result, and every later subscriber on the same object gets that
result instead of executing again. The document cache (document_cache.py) hands one
parsed document to every subscriber with the same query text, so equal selections meet.

Only for objects whose fields answer the same whoever asks: the caller makes one shared
object per event and visibility class (subscriptions.py). The hook is graphql-core's
documented `executor_class` (strawberry's `execution_context_class`), subclassed, not
patched; strawberry still wraps each subscriber's result in its own extensions.
"""

import asyncio
import weakref
from typing import Any, TypeVar

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    OperationType,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.schema import broadcast

T = TypeVar("T")
_Key = tuple[int, str]  # the operation's id, its variables


class _Results:
    """What executing each operation on one shared payload gave."""

    def __init__(self) -> None:
        # The operation is kept beside its result so its id cannot be reused meanwhile.
        self.by_operation: dict[_Key, tuple[OperationDefinitionNode, Any]] = {}


# By the payload's id; an entry goes when its payload is collected.
_shared: dict[int, _Results] = {}


def share(value: T) -> T:
    """Mark `value` as a payload whose execution results every subscriber may share."""
    key = id(value)
    if key not in _shared:
        _shared[key] = _Results()
        weakref.finalize(value, _shared.pop, key, None)
    return value


def is_shared(value: object) -> bool:
    return id(value) in _shared


class SharingExecutor(StrawberryGraphQLCoreExecutionContext):
    def __copy__(self) -> "SharingExecutor":
        # graphql-core copies the executor per subscriber and event; copy.copy's generic
        # path (__reduce_ex__) made the copy a large part of delivering a shared result.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def build_resolve_info(
        self,
        field_def: GraphQLField,
        field_nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo[Any]:
        if (
            path.prev is None
            and self.operation.operation is OperationType.SUBSCRIPTION
            and not is_shared(self.root_value)
        ):
            # The subscription's source stream is being created in this task: its
            # resolver may hand this executor to a broadcast group (broadcast.py).
            broadcast.subscribing.set(self)
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    def execute_operation(self, serially: bool | None = None) -> Any:
        results = _shared.get(id(self.root_value))
        if results is None:
            return super().execute_operation(serially)
        variables = self.variable_values.coerced
        key = (id(self.operation), repr(sorted(variables.items())) if variables else "")
        known = results.by_operation.get(key)
        if known is not None and known[0] is self.operation:
            return _shielded(known[1])
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            # A field still loading: everyone awaits the one execution.
            result = asyncio.ensure_future(result)
        results.by_operation[key] = (self.operation, result)
        return _shielded(result)


def _shielded(result: Any) -> Any:
    # One subscriber leaving must not cancel the execution the others await.
    return asyncio.shield(result) if isinstance(result, asyncio.Future) else result

"""GraphQL operations counted by root field and outcome; request ids in GraphQL errors.

The operation label is the schema's root field name (`requestUsage`, `approvalQueue`),
never the client's free-text operationName: only a document that passed validation is
labelled by its fields, so the label's values are bounded by the schema.
"""

from collections.abc import Iterator
from typing import Any, TypeVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from app.observability.metrics import Metrics
from app.observability.request_ids import request_id

INVALID = "(invalid)"
R = TypeVar("R")


class OperationMetrics(SchemaExtension):
    """Counts each operation once it ends; keeps the open-subscriptions gauge. Made per
    operation (the schema takes a factory), so it may hold that operation's state."""

    def __init__(self) -> None:
        self._executed = False

    def on_operation(self) -> Iterator[None]:
        self._executed = False
        metrics = _metrics(self.execution_context.context)
        try:
            yield
        finally:
            context = self.execution_context
            subscription = self._executed and _type(context) == "subscription"
            if metrics is not None:
                if subscription:
                    metrics.subscriptions_open.dec()
                self._count(metrics)

    def on_execute(self) -> Iterator[None]:
        self._executed = True
        metrics = _metrics(self.execution_context.context)
        if metrics is not None and _type(self.execution_context) == "subscription":
            metrics.subscriptions_open.inc()
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Over websockets each result is streamed: its errors name the request id of the
        socket's upgrade request (HTTP answers get theirs in `with_request_id`)."""
        rid = request_id()
        errors = getattr(result, "errors", None)
        if rid is not None and errors:
            # New error objects: the document cache shares validation errors across requests.
            result.errors = [_with_id(error, rid) for error in errors]
        yield

    def _count(self, metrics: Metrics) -> None:
        context = self.execution_context
        if not self._executed:
            metrics.graphql_operations.labels(type="", operation=INVALID, outcome="invalid").inc()
            return
        result = context.result
        outcome = "error" if getattr(result, "errors", None) else "ok"
        kind = _type(context)
        for name in root_fields(context.graphql_document, context.operation_name):
            metrics.graphql_operations.labels(type=kind, operation=name, outcome=outcome).inc()


def with_request_id(result: R) -> R:
    """Each error of a GraphQL response names the request it answered, so a user's report
    ("it said Unexpected error") finds its log lines."""
    rid = request_id()
    errors = result.get("errors") if isinstance(result, dict) else None
    if rid is None or not isinstance(errors, list):
        return result
    for error in errors:
        if isinstance(error, dict):
            error["extensions"] = {**(error.get("extensions") or {}), "requestId": rid}
    return result


def _with_id(error: GraphQLError, rid: str) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "requestId": rid},
    )


def root_fields(document: DocumentNode | None, operation_name: str | None) -> list[str]:
    operation = _operation(document, operation_name)
    if document is None or operation is None:
        return [INVALID]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: list[str] = []
    _collect(operation.selection_set, fragments, names, set())
    return names or [INVALID]


def _collect(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    names: list[str],
    seen: set[str],
) -> None:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value not in names:
                names.append(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                seen.add(name)  # each fragment once: validation already refused cycles
                _collect(fragments[name].selection_set, fragments, names, seen)


def _operation(
    document: DocumentNode | None, operation_name: str | None
) -> OperationDefinitionNode | None:
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    return None


def _type(context: Any) -> str:
    operation = _operation(context.graphql_document, context.operation_name)
    return operation.operation.value if operation is not None else ""


def _metrics(context: Any) -> Metrics | None:
    """The app's metrics through the GraphQL context's services (duck-typed: this module
    does not import the schema)."""
    metrics = getattr(getattr(context, "services", None), "metrics", None)
    return metrics if isinstance(metrics, Metrics) else None

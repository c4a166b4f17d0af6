"""Parsed and validated GraphQL documents, remembered by their query text.

strawberry's ValidationCache keys its LRU on the parsed document, and graphql-core 3.3's
syntax tree is made of frozen dataclasses: every lookup hashed the whole tree again
(~40 µs for the requestUsage mutation, more for bigger queries). Keyed by the text, one
dict lookup finds both the document and its validation errors. Bounded, so unique query
texts from a public endpoint cannot grow memory without limit.
"""

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


@dataclass
class _Known:
    document: DocumentNode
    errors: list[GraphQLError] | None = None  # None until validated once


class Documents:
    """The shared, bounded store behind every request's DocumentCache extension."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._known: OrderedDict[str, _Known] = OrderedDict()

    def get(self, query: str) -> _Known | None:
        known = self._known.get(query)
        if known is not None:
            self._known.move_to_end(query)
        return known

    def add(self, query: str, document: DocumentNode) -> _Known:
        known = self._known[query] = _Known(document)
        if len(self._known) > self.maxsize:
            self._known.popitem(last=False)
        return known


class DocumentCache(SchemaExtension):
    """Parse and validate each distinct query text once, with our extra rules added.

    Made anew for every request (the schema takes a factory), so it can hold on to the
    entry its parse step found for its validate step.
    """

    def __init__(self, documents: Documents, extra_rules: tuple[type[ASTValidationRule], ...]):
        self.documents = documents
        self.extra_rules = extra_rules
        self._known: _Known | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.extra_rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None:
            known = self.documents.get(query)
            if known is None:  # a syntax error raises here and is never remembered
                known = self.documents.add(query, parse(query, **context.parse_options))
            context.graphql_document = known.document
            self._known = known
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        known = self._known
        if known is not None and context.graphql_document is known.document:
            if known.errors is None:
                known.errors = validate_document(
                    context.schema._schema, known.document, context.validation_rules
                )
            context.pre_execution_errors = known.errors
        yield

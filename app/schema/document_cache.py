"""Parsed and validated GraphQL documents, remembered by their query text.

strawberry's ValidationCache keys its LRU on the parsed document, and graphql-core 3.3's
syntax tree is made of frozen dataclasses: every lookup hashed the whole tree again
(~40 µs for the requestUsage mutation, more for bigger queries). Keyed by the text, one
dict lookup finds both the document and its validation errors. Bounded in entries and in
the size of each document, so unique query texts from a public endpoint cannot grow
memory without limit (three 3.9 MB documents once kept 800 MB alive for good).

Every document is measured (app/schema/limits.py) before it is validated or cached. Its
verdict is kept per rule set: a development and a production app in one process (tests)
validate the same text with and without introspection, and never share a verdict.
"""

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.schema.introspection import NoIntrospection
from app.schema.limits import check_cost, parse_bounded

# Everyday operations are a few hundred characters, GraphiQL's introspection 1.6 KB. A
# parsed document holds up to ~150 times its text in syntax nodes, so the cache is bounded
# by the text it keeps too: 128 KiB of text, ~20 MB of nodes at worst.
MAX_CACHED_CHARS = 4 * 1024
CACHED_CHARS_BUDGET = 128 * 1024


@dataclass
class _Known:
    document: DocumentNode
    # Validation errors by whether introspection was allowed; absent until validated once.
    errors: dict[bool, list[GraphQLError]] = field(default_factory=dict)


class Documents:
    """The shared, bounded store behind every request's DocumentCache extension."""

    def __init__(
        self, maxsize: int, max_chars: int = MAX_CACHED_CHARS, budget: int = CACHED_CHARS_BUDGET
    ) -> None:
        self.maxsize, self.max_chars, self.budget = maxsize, max_chars, budget
        self.chars = 0  # the text of the documents kept
        self._known: OrderedDict[str, _Known] = OrderedDict()

    def __len__(self) -> int:
        return len(self._known)

    def get(self, query: str) -> _Known | None:
        known = self._known.get(query)
        if known is not None:
            self._known.move_to_end(query)
        return known

    def add(self, query: str, document: DocumentNode) -> _Known:
        known = _Known(document)
        if len(query) <= self.max_chars and query not in self._known:
            self._known[query] = known
            self.chars += len(query)
            while len(self._known) > self.maxsize or self.chars > self.budget:
                oldest, _ = self._known.popitem(last=False)
                self.chars -= len(oldest)
        return known


class DocumentCache(SchemaExtension):
    """Parse, measure and validate each distinct query text once, with our rules added.

    Made anew for every request (the schema takes a factory), so it can hold on to the
    entry its parse step found for its validate step.
    """

    def __init__(self, documents: Documents, extra_rules: tuple[type[ASTValidationRule], ...]):
        self.documents = documents
        self.extra_rules = extra_rules
        self._known: _Known | None = None
        self._introspection = True

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # The app's mode rides on the request's context (GraphQLEndpoint sets it).
        self._introspection = getattr(context.context, "introspection", True)
        rules = self.extra_rules if self._introspection else (*self.extra_rules, NoIntrospection)
        context.validation_rules = context.validation_rules + rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None:
            known = self.documents.get(query)
            if known is None:
                known = self._measured(query)
            context.graphql_document = known.document
            self._known = known
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        known = self._known
        if known is not None and context.graphql_document is known.document:
            errors = known.errors.get(self._introspection)
            if errors is None:
                errors = known.errors[self._introspection] = validate_document(
                    context.schema._schema, known.document, context.validation_rules
                )
            context.pre_execution_errors = errors
        yield

    def _measured(self, query: str) -> _Known:
        """A new text: parsed and measured, remembered only if it may be validated."""
        try:
            document = parse_bounded(query, dict(self.execution_context.parse_options))
            refused = check_cost(document)
        except GraphQLError as error:  # syntax errors, or too big to parse
            refused = error
        if refused is not None:
            return self._refused(refused)
        return self.documents.add(query, document)

    def _refused(self, error: GraphQLError) -> _Known:
        """Stands in for a refused document, so strawberry answers with the refusal as it
        does with validation errors: over HTTP and over websockets alike (an exception
        raised from on_parse ends a websocket operation with no error message at all)."""
        name = self.execution_context.operation_name
        placeholder = OperationDefinitionNode(
            operation=OperationType.QUERY,  # allowed on every transport, never executed
            name=NameNode(value=name) if name else None,
            selection_set=SelectionSetNode(selections=(FieldNode(name=NameNode(value="x")),)),
            variable_definitions=(),
            directives=(),
        )
        return _Known(DocumentNode(definitions=(placeholder,)), {True: [error], False: [error]})

"""What one GraphQL request may cost, checked before anything expensive runs.

The endpoint is public: an unauthenticated request must not be able to buy more CPU or
memory than a busy driver's. graphql-core parses in time linear in the tokens, but
several validation rules (strawberry's depth limiter walks fragments once per path,
OverlappingFieldsCanBeMerged compares fields pairwise) grow much faster than the text.
So every document is measured first, in one pass linear in its size, and refused with a
GraphQL error carrying `extensions.code` when it is over a bound:

- BODY_TOO_LARGE: the HTTP body (app/schema/http.py refuses it before reading it all);
- QUERY_TOO_LARGE: the document's text, or its tokens;
- TOO_MANY_OPERATIONS: operations in one document;
- TOO_MANY_ALIASES, TOO_COMPLEX: aliases and selected fields after fragments are
  expanded (each fragment measured once), spreads nested too deep, or fragment cycles;
- TOO_MANY_LOGINS: more than one `login` in a request (one password guess each).

Legitimate documents are far below these: GraphiQL's introspection query is 1.6 KB,
183 tokens and about 150 expanded fields.
"""

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from graphql.validation import ValidationRule

# submitReceipts takes up to 100 receipts of at most 1 KiB, base64url in JSON: ~140 KB.
MAX_BODY_BYTES = 256 * 1024
MAX_DOCUMENT_CHARS = 16 * 1024  # large inputs travel as variables, never in the document
MAX_TOKENS = 2_000  # bounds parse time (~7 µs a token) whatever the text holds
MAX_OPERATIONS = 10
MAX_ALIASES = 30
MAX_FIELDS = 500  # pairwise validation of 500 same-named fields already costs ~50 ms
MAX_NESTING = 40  # fields, spreads and inline fragments one inside another
MAX_LOGINS = 1


def refusal(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def parse_bounded(query: str, parse_options: dict[str, Any]) -> DocumentNode:
    """Parse a document within the size and token bounds; raises a GraphQLError if not."""
    if len(query) > MAX_DOCUMENT_CHARS:
        raise refusal(
            "QUERY_TOO_LARGE",
            f"The document has {len(query)} characters; at most {MAX_DOCUMENT_CHARS} are "
            "accepted. Pass large values as variables.",
        )
    try:
        return parse(query, **{**parse_options, "max_tokens": MAX_TOKENS})
    except GraphQLSyntaxError as error:
        if "tokens. Parsing aborted" in error.message:  # graphql-core's max_tokens refusal
            raise refusal(
                "QUERY_TOO_LARGE", f"The document has more than {MAX_TOKENS} tokens."
            ) from None
        raise


@dataclass
class _Cost:
    fields: int = 0
    aliases: int = 0
    nesting: int = 0  # how deep its selections go below where it is spread

    def add(self, other: "_Cost", depth: int = 0) -> None:
        self.fields += other.fields
        self.aliases += other.aliases
        self.nesting = max(self.nesting, depth + other.nesting)


class _TooComplex(Exception):
    """Raised from deep inside the walk; carries the refusal out."""

    def __init__(self, error: GraphQLError) -> None:
        self.error = error


def check_cost(document: DocumentNode) -> GraphQLError | None:
    """The refusal for a document over a bound, else None; linear in the document.

    Each fragment is measured once and its cost reused at every spread, so a chain of
    fragments that each spread the next twice costs one visit per fragment, not 2^n.
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > MAX_OPERATIONS:
        return refusal(
            "TOO_MANY_OPERATIONS",
            f"The document has {len(operations)} operations; at most {MAX_OPERATIONS}.",
        )
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measured: dict[str, _Cost] = {}
    measuring: set[str] = set()

    def selections(selection_set: SelectionSetNode, depth: int) -> _Cost:
        """The cost of a selection set that sits `depth` levels below its operation."""
        if depth > MAX_NESTING:  # before recursing on: Python's stack is bounded too
            raise _TooComplex(_too_deep())
        cost = _Cost(nesting=1)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost.fields += 1
                cost.aliases += selection.alias is not None
                if selection.selection_set is not None:
                    cost.add(selections(selection.selection_set, depth + 1), 1)
            elif isinstance(selection, InlineFragmentNode):
                cost.add(selections(selection.selection_set, depth + 1), 1)
            elif isinstance(selection, FragmentSpreadNode):
                cost.add(fragment(selection.name.value, depth + 1), 1)
            _check(cost, depth)
        return cost

    def fragment(name: str, depth: int) -> _Cost:
        if name in measured:
            return measured[name]
        definition = fragments.get(name)
        if definition is None:
            return _Cost()  # an unknown fragment: validation names it
        if name in measuring:
            raise _TooComplex(refusal("TOO_COMPLEX", f"Fragment {name!r} spreads itself."))
        measuring.add(name)
        cost = measured[name] = selections(definition.selection_set, depth)
        measuring.discard(name)
        return cost

    try:
        total = _Cost()
        for operation in operations:
            total.add(selections(operation.selection_set, 1))
            _check(total, 1)
        for name in fragments:  # unused ones too: validation visits them all
            if name not in measured:
                total.add(fragment(name, 1))
                _check(total, 1)
    except _TooComplex as refused:
        return refused.error
    return None


def _check(cost: _Cost, depth: int) -> None:
    """Refuse as soon as a partial count is over a bound: the walk stops early, too."""
    if depth - 1 + cost.nesting > MAX_NESTING:  # a fragment measured once, spread deeper
        raise _TooComplex(_too_deep())
    if cost.aliases > MAX_ALIASES:
        raise _TooComplex(
            refusal("TOO_MANY_ALIASES", f"The document uses more than {MAX_ALIASES} aliases.")
        )
    if cost.fields > MAX_FIELDS:
        raise _TooComplex(
            refusal(
                "TOO_COMPLEX",
                f"The document selects more than {MAX_FIELDS} fields once its fragments "
                "are expanded.",
            )
        )


def _too_deep() -> GraphQLError:
    return refusal("TOO_COMPLEX", f"Selections are nested more than {MAX_NESTING} deep.")


class OneLoginPerRequest(ValidationRule):
    """One request may try one password: `login` at most once per mutation, whatever
    aliases, inline fragments or fragment spreads repeat it.

    Runs after check_cost, so expanding the root's fragments here is bounded."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation != OperationType.MUTATION:
            return
        fragments = {
            d.name.value: d
            for d in self.context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        if _logins(node.selection_set, fragments, set()) > MAX_LOGINS:
            self.report_error(
                GraphQLError(
                    "A request may try one password: at most one `login` per request.",
                    node,
                    extensions={"code": "TOO_MANY_LOGINS"},
                )
            )


def _logins(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    spreading: set[str],
) -> int:
    """`login` fields at the mutation's root level (fields below are other types')."""
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += selection.name.value == "login"
        elif isinstance(selection, InlineFragmentNode):
            count += _logins(selection.selection_set, fragments, spreading)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            definition = fragments.get(name)
            if definition is not None and name not in spreading:  # cycles: refused already
                count += _logins(definition.selection_set, fragments, spreading | {name})
    return count

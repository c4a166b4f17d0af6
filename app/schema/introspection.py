"""Introspection off in production (POWERPERMIT_ENV=production): the schema is not handed
to whoever asks. `__typename` stays: clients need it to tell a union's members apart."""

from typing import Any

from graphql import FieldNode, GraphQLError
from graphql.validation import ValidationRule

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class NoIntrospection(ValidationRule):
    """Refuses `__schema` and `__type` wherever they are selected; every other introspection
    type is only reachable through them."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    f"Introspection is turned off on this server: `{node.name.value}` is "
                    "not answered. The schema is published with the API's documentation.",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )

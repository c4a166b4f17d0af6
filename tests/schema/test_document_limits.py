"""No document may buy more CPU or memory than a bound: each over-limit document is
refused with its own `extensions.code`, before validation, and changes nothing."""

import base64
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from graphql import get_introspection_query

from app.schema import DOCUMENTS, document_cache
from app.schema.document_cache import MAX_CACHED_CHARS
from app.schema.limits import (
    MAX_ALIASES,
    MAX_BODY_BYTES,
    MAX_DOCUMENT_CHARS,
    MAX_FIELDS,
    MAX_NESTING,
    MAX_OPERATIONS,
    MAX_TOKENS,
)
from app.schema.mutations import MAX_RECEIPTS_PER_CALL
from app.services.container import Services
from app.store import tables as t
from device.protocol.receipt import MAX_RECEIPT_SIZE
from tests.conftest import Clock, GraphQLClient, iso
from tests.schema.abusive_documents import aliases, fragment_bomb

OVER_LIMIT = {
    "fragment_bomb": (fragment_bomb(), "TOO_COMPLEX"),
    "fragment_cycle": (
        "{ ...A } fragment A on Query { ...B } fragment B on Query { __typename ...A }",
        "TOO_COMPLEX",
    ),
    "document_size": ("{ __typename }" + " " * MAX_DOCUMENT_CHARS, "QUERY_TOO_LARGE"),
    "tokens": ("{ " + "a " * MAX_TOKENS + "}", "QUERY_TOO_LARGE"),
    "aliases": (aliases(MAX_ALIASES + 1), "TOO_MANY_ALIASES"),
    "fields": (
        "{ me { " + " ".join(f"f{n}: id" if n < 5 else "id" for n in range(MAX_FIELDS)) + " } }",
        "TOO_COMPLEX",
    ),
    "nesting": (
        "{ " + "me { " * (MAX_NESTING + 1) + "id" + " }" * (MAX_NESTING + 2),
        "TOO_COMPLEX",
    ),
    "operations": (
        " ".join(f"query Q{n} {{ __typename }}" for n in range(MAX_OPERATIONS + 1)),
        "TOO_MANY_OPERATIONS",
    ),
}


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every document that reaches graphql-core's validation (all the rules at once)."""
    seen: list[Any] = []
    validate = document_cache.validate_document

    def counting(schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document)
        return validate(schema, document, rules)

    monkeypatch.setattr(document_cache, "validate_document", counting)
    return seen


@pytest.mark.parametrize("name", sorted(OVER_LIMIT))
async def test_over_limit_document_is_refused_with_its_code_before_validation(
    gql: GraphQLClient, validations: list[Any], name: str
) -> None:
    query, code = OVER_LIMIT[name]
    operation = "Q0" if name == "operations" else None
    response = await gql.client.post("/graphql", json={"query": query, "operationName": operation})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["message"]
    assert validations == []  # no validation rule ever saw it


async def test_a_document_just_under_every_limit_is_answered(gql: GraphQLClient) -> None:
    body = await gql(aliases(MAX_ALIASES))
    assert not body.get("errors"), body
    assert body["data"][f"a{MAX_ALIASES - 1}"] == "Query"


async def test_graphiql_introspection_passes_the_limits(gql: GraphQLClient) -> None:
    body = await gql(get_introspection_query(descriptions=True, specified_by_url=True))
    assert not body.get("errors"), body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_a_refused_mutation_changes_nothing(
    gql: GraphQLClient, services: Services, tokens: dict[str, str], clock: Clock
) -> None:
    padding = " ".join(f"a{n}: __typename" for n in range(MAX_ALIASES + 1))
    query = (
        "mutation ($device: ID!, $start: DateTime!) { "
        "requestUsage(input: {deviceId: $device, startsAt: $start, durationMinutes: 30}) "
        f"{{ __typename }} {padding} }}"
    )
    variables = {"device": "ch-1", "start": iso(clock.now + timedelta(days=1))}
    body = await gql(query, variables, token=tokens["user"])
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    count = sa.select(sa.func.count()).select_from(t.usage_requests)
    assert await services.db.read(lambda conn: conn.execute(count).scalar_one()) == 0


async def test_the_document_cache_keeps_neither_big_documents_nor_too_many(
    gql: GraphQLClient,
) -> None:
    big = "{ __typename }" + " " * MAX_CACHED_CHARS
    assert not (await gql(big)).get("errors")
    assert DOCUMENTS.get(big) is None

    for n in range(DOCUMENTS.maxsize + 10):
        assert not (await gql(f"query Q{n} {{ __typename }}")).get("errors")
    assert len(DOCUMENTS) <= DOCUMENTS.maxsize
    assert DOCUMENTS.get("query Q0 { __typename }") is None  # the oldest went first

    padding = "#" + "x" * (MAX_CACHED_CHARS - 100) + "\n"
    for n in range(DOCUMENTS.budget // MAX_CACHED_CHARS + 10):
        assert not (await gql(f"{padding}query P{n} {{ __typename }}")).get("errors")
    assert DOCUMENTS.chars <= DOCUMENTS.budget


async def test_a_body_over_the_limit_is_refused_with_413(gql: GraphQLClient) -> None:
    query = "{ __typename }" + " " * MAX_BODY_BYTES
    response = await gql.client.post("/graphql", json={"query": query})
    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BODY_TOO_LARGE"


async def test_a_streamed_body_is_refused_before_it_is_all_read(gql: GraphQLClient) -> None:
    """No Content-Length (chunked): counted as it arrives, refused once over the bound."""
    chunk, chunks = b" " * 16384, 1024  # 16 MiB offered
    sent = 0

    async def body() -> Any:
        nonlocal sent
        yield b'{"query": "{ __typename }"'
        for _ in range(chunks):
            sent += 1
            yield chunk
        yield b"}"

    response = await gql.client.post(
        "/graphql", content=body(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    assert sent * len(chunk) <= MAX_BODY_BYTES + len(chunk)


async def test_the_largest_receipt_batch_fits_in_a_body(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    """The body bound leaves room for submitReceipts at its own limits."""
    receipt = base64.urlsafe_b64encode(bytes(MAX_RECEIPT_SIZE)).rstrip(b"=").decode()
    query = "mutation ($tokens: [String!]!) { submitReceipts(tokens: $tokens) { status } }"
    body = await gql(query, {"tokens": [receipt] * MAX_RECEIPTS_PER_CALL}, token=tokens["user"])
    assert not body.get("errors"), body
    assert len(body["data"]["submitReceipts"]) == MAX_RECEIPTS_PER_CALL


async def test_a_batch_of_operations_in_one_body_is_refused(gql: GraphQLClient) -> None:
    """One request, one operation: batching stays off, so a JSON list is a 400."""
    batch = [{"query": "{ __typename }"}] * 2
    response = await gql.client.post("/graphql", json=batch)
    assert response.status_code == 400

"""schemathesis in GraphQL mode against a live server: queries and mutations generated from
the schema it serves, signed in as a manager and anonymously. No answer is a 5xx, and none
carries an unhandled error (the masked "Unexpected error.").

Bounded and derandomized: the same examples on every run (a few seconds per operation at
most); hypothesis keeps no example database between runs.
"""

import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode

from tests.http.live import LiveServer, demo_server

# (who, mode, examples per operation): ~25 operations, a few hundred requests per run.
# Negative mode sends documents the schema must refuse (wrong types, missing arguments).
RUNS = [
    ("manager", GenerationMode.POSITIVE, 30),
    ("manager", GenerationMode.NEGATIVE, 15),
    (None, GenerationMode.POSITIVE, 6),
]
UNHANDLED = "Unexpected error."  # what MaskErrors puts in place of an unhandled exception


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Limits a hundred times the defaults: generated mutations come one after another, as
    # fast as answered, and a 429 would hide the answer being checked.
    limits = ("--rate-limit-factor", "100")
    with demo_server(tmp_path_factory.mktemp("schemathesis"), serve_args=limits) as server:
        yield server


def unhandled(body: Any) -> list[Any]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [error for error in errors or [] if error.get("message") == UNHANDLED]


@pytest.mark.parametrize(
    ("who", "mode", "examples"), RUNS, ids=["manager", "manager-negative", "anonymous"]
)
def test_generated_operations_get_no_server_error(
    server: LiveServer, who: str | None, mode: GenerationMode, examples: int
) -> None:
    schema = schemathesis.graphql.from_url(server.graphql_url, timeout=30)
    headers = server.headers(who) if who else {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, [operation.label for operation in operations]
    counts: dict[int, int] = {}
    for operation in operations:

        @hypothesis.settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def answered(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            # Not schemathesis's not_a_server_error: in GraphQL mode it counts every error
            # with a path, and a typed refusal of bad input ("first must be between 1 and
            # 100") is the answer we want, not a failure.
            assert response.status_code < 500, (case.body, response.text)
            body = response.json()
            assert not unhandled(body), (case.body, body)
            counts[response.status_code] = counts.get(response.status_code, 0) + 1

        started = time.monotonic()
        answered()
        print(f"{operation.label}: {time.monotonic() - started:.1f} s")  # progress, with -s
    print(f"{sum(counts.values())} answers by status: {counts}")

"""schemathesis against the served OpenAPI document: generated requests (valid and not) to
every operation, with a valid token; no 5xx, and every response with a documented schema
matches it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.support.api_server import Api, running_api


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(Path(tmp_path_factory.mktemp("fuzz"))) as running:
        running.release.set()  # jobs complete at once: executions do not pile up
        yield running


def test_no_server_error_and_responses_match_their_schema(served: Api) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    headers = {"Authorization": f"Bearer {served.tokens['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10  # every route is documented

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def check(case) -> None:  # noqa: ANN001 (schemathesis' Case)
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )  # fmt: skip

        check()

"""Property-based sweep of the OpenAPI document with an admin token: no server errors, and
every answer (success or error) has the shape the document declares."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.harness import RunningAgent


def test_no_route_answers_with_a_server_error_or_an_undeclared_shape(agent: RunningAgent) -> None:
    schema = schemathesis.openapi.from_url(f"{agent.url}/openapi.json")
    headers = {"Authorization": f"Bearer {agent.admin_token}"}
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 15
    calls = 0

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal calls
            response = case.call(headers=headers, timeout=60)
            calls += 1
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
            if response.status_code >= 400:
                body = response.json()
                assert {"error", "message", "hint"} <= set(body), (case.path, body)

        check()
    assert calls >= 100

"""Schemathesis against our OpenAPI schema, in process, as an owner with a real token: whatever it sends
to whichever operation, no answer is a server error. Bounded (examples per operation) to stay quick.

Driven through hypothesis directly rather than schemathesis' pytest plugin, which does not load under
pytest 9 in the pinned versions."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests import factories

pytestmark = [pytest.mark.security, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 12


def test_no_operation_answers_with_a_server_error(transactional_db):
    from webapp.api.tokens import token_create
    from webapp.wsgi import application

    owner = factories.make_user("fuzzer")
    workspace = factories.make_workspace(owner, name="Fuzzed")
    factories.make_document(workspace, content=b"Fuzzed agreement body.", original_name="fuzz.txt")
    token = token_create(user=owner, name="fuzz").raw

    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    calls = 0

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            nonlocal calls
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            calls += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        run()
    assert calls >= len(operations) * 3
    assert not failures, failures

"""The admin API's OpenAPI document: it matches the routes, and fuzzing it finds no 5xx.

schemathesis generates requests from the document for every operation and sends them to the
service that owns the path, on the real running stack (real broker and database).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given

from fortbridge.registry import SERVICES
from libs.common.openapi import admin_api_spec, operations
from libs.common.service import build_app
from libs.common.settings import Settings
from tests.conftest import StackFactory
from tests.support.stack import Stack

OPERATOR = "operator-token-for-schemathesis"
EXAMPLES_PER_OPERATION = 25
PUBLIC_PREFIXES = ("/admin/api/", "/auth/")
UPSTREAM = ("502", "503")


def served_routes() -> set[tuple[str, str, str]]:
    """(method, path, service) of every admin and auth route the services register."""
    found: set[tuple[str, str, str]] = set()
    for name, definition in SERVICES.items():
        app = build_app(definition, Settings())
        for route in app.router.routes():
            path = route.resource.canonical if route.resource else ""
            if route.method != "HEAD" and path.startswith(PUBLIC_PREFIXES):
                found.add((route.method, path, name))
    return found


def test_every_route_is_documented_with_its_owner() -> None:
    documented = set(operations())
    served = served_routes()
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented operations no service serves"


def test_the_document_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_dict(admin_api_spec())
    results = list(schema.get_all_operations())
    assert len(results) == len(operations())
    assert all(result.ok() is not None for result in results)


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(admin_api_token=OPERATOR)


def check_operation(
    operation: Any, urls: dict[str, str], headers: dict[str, str], failures: list[str]
) -> None:
    base_url = urls[operation.definition.raw["x-fortbridge-service"]]
    # A documented 502/503 is Shopify or Fortnox failing (the simulators answer with errors for
    # the random shops and ids generated here), not a server error of ours.
    upstream = {int(code) for code in operation.definition.raw["responses"] if code in UPSTREAM}

    @given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, allow_redirects=False, timeout=10)
        if response.status_code >= 500 and response.status_code not in upstream:
            failures.append(
                f"{case.method} {case.formatted_path} {case.query} -> "
                f"{response.status_code} {response.text[:200]}"
            )

    check()


def fuzz(urls: dict[str, str], headers: dict[str, str]) -> list[str]:
    """Run every operation's generated cases; returns the 5xx answers found."""
    schema = schemathesis.openapi.from_dict(admin_api_spec())
    failures: list[str] = []
    for result in schema.get_all_operations():
        check_operation(result.ok(), urls, headers, failures)
    return failures


# schemathesis's own strategies trip one of Hypothesis's deprecation warnings now and then.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_fuzzing_the_document_finds_no_server_errors(stack: Stack) -> None:
    urls = {name: stack.url(name, "") for name in stack.apps}
    with_token = await asyncio.to_thread(fuzz, urls, {"Authorization": f"Bearer {OPERATOR}"})
    assert with_token == []
    without = await asyncio.to_thread(fuzz, urls, {})
    assert without == []


async def test_secured_operations_refuse_calls_without_credentials(stack: Stack) -> None:
    for method, path, owner in operations():
        secured = admin_api_spec()["paths"][path][method.lower()].get("security") != []
        concrete = re.sub(
            r"\{[a-z_]+\}",
            "1",
            path.replace("{job_id}", "00000000-0000-0000-0000-000000000000"),
        )
        async with stack.http.request(
            method,
            stack.url(owner, concrete),
            params={"shop": stack.shop},
            json={},
            allow_redirects=False,
        ) as response:
            if secured:
                assert response.status == 401, f"{method} {path}: {response.status}"
            else:
                assert response.status < 500, f"{method} {path}: {response.status}"

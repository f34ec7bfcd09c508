"""The admin API's OpenAPI document: it matches the routes, and fuzzing it finds no 5xx.

schemathesis generates requests from the document for every operation and sends them to the
service that owns the path, on the real running stack (real broker and database). Every answer
is checked against the document: its status is one the operation documents, and its body and
content type are those documented for that status. A 502 or 503 (Shopify or Fortnox failing)
passes only when the Shopify or Fortnox simulator really answered an error or a fault while the
request was handled; any other 5xx fails.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response

from fortbridge.registry import SERVICES
from libs.common.openapi import admin_api_spec, operations
from libs.common.service import build_app
from libs.common.settings import Settings
from simulators.fortnox import FortnoxSimulator
from simulators.shopify import ShopifySimulator
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


def test_every_operation_with_input_documents_the_400_of_unsafe_input() -> None:
    """libs/common/http.py refuses a NUL in any path or query value, and a body nested too
    deep, with 400 before any handler runs: every operation that takes input can answer it.
    (The fuzzer found one that did not say so only when it happened to send a NUL.)"""
    lacking = []
    for path, item in admin_api_spec()["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            takes_input = item.get("parameters") or operation.get("parameters")
            if (takes_input or operation.get("requestBody")) and "400" not in operation[
                "responses"
            ]:
                lacking.append(f"{method.upper()} {path}")
    assert lacking == []


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(admin_api_token=OPERATOR)


@dataclass
class Upstreams:
    """The simulators the stack calls: did either answer an error (or a fault) since a mark?"""

    fortnox: FortnoxSimulator
    shopify: ShopifySimulator

    def mark(self) -> tuple[int, int]:
        return len(self.fortnox.requests), len(self.shopify.requests)

    def failed_since(self, mark: tuple[int, int]) -> bool:
        seen: Sequence[Any] = [
            *self.fortnox.requests[mark[0] :],
            *self.shopify.requests[mark[1] :],
        ]
        return upstream_failed(seen)


def upstream_failed(records: Sequence[Any]) -> bool:
    """Whether any of the simulators' request records is an error answer or a fault."""
    return any(
        record.status >= 500 or record.status in (401, 403, 429) or record.fault
        for record in records
    )


def server_error(status: int, documented_upstream: set[int], upstream_down: bool) -> str | None:
    """Why a 5xx answer is a server error of ours, or None when it is not one."""
    if status < 500:
        return None
    if status not in documented_upstream:
        return "a server error"
    if not upstream_down:
        return f"{status} (an upstream failing) while no upstream failed"
    return None


RESPONSE_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def response_problems(case: Any, response: Any, *, detail: bool = False) -> list[str]:
    """What the document does not allow in the answer: schemathesis's failures, by class (with
    their first lines with ``detail``)."""
    try:
        case.validate_response(response, checks=RESPONSE_CHECKS)
    except FailureGroup as group:
        found: Sequence[BaseException] = group.exceptions
    except Failure as failure:
        found = [failure]
    else:
        return []
    return [
        f"{type(e).__name__}: {' '.join(str(e).split())[:300]}" if detail else type(e).__name__
        for e in found
    ]


def check_operation(
    operation: Any,
    urls: dict[str, str],
    headers: dict[str, str],
    upstreams: Upstreams,
    failures: list[str],
) -> None:
    base_url = urls[operation.definition.raw["x-fortbridge-service"]]
    # A documented 502/503 is Shopify or Fortnox failing (the simulators answer with errors for
    # the random shops and ids generated here), not a server error of ours, if one did fail.
    upstream = {int(code) for code in operation.definition.raw["responses"] if code in UPSTREAM}

    @given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        mark = upstreams.mark()
        response = case.call(base_url=base_url, headers=headers, allow_redirects=False, timeout=10)
        where = f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}"
        problem = server_error(response.status_code, upstream, upstreams.failed_since(mark))
        if problem is not None:
            failures.append(f"{where}: {problem}: {response.text[:200]}")
        for problem in response_problems(case, response, detail=True):
            failures.append(f"{where}: {problem}")

    check()


def fuzz(urls: dict[str, str], headers: dict[str, str], upstreams: Upstreams) -> list[str]:
    """Run every operation's generated cases; returns the answers the document does not allow."""
    schema = schemathesis.openapi.from_dict(admin_api_spec())
    failures: list[str] = []
    for result in schema.get_all_operations():
        check_operation(result.ok(), urls, headers, upstreams, failures)
    return failures


# schemathesis's own strategies trip one of Hypothesis's deprecation warnings now and then.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_fuzzing_the_document_finds_no_server_errors(stack: Stack) -> None:
    urls = {name: stack.url(name, "") for name in stack.apps}
    upstreams = Upstreams(stack.fortnox, stack.shopify)
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    with_token = await asyncio.to_thread(fuzz, urls, operator, upstreams)
    assert with_token == [], "\n".join(with_token)
    without = await asyncio.to_thread(fuzz, urls, {}, upstreams)
    assert without == [], "\n".join(without)


def test_a_502_or_503_passes_only_where_an_upstream_failed() -> None:
    documented = {502, 503}
    assert server_error(503, documented, upstream_down=True) is None
    assert server_error(502, documented, upstream_down=False) is not None
    assert server_error(503, set(), upstream_down=True) == "a server error"
    assert server_error(500, documented, upstream_down=True) == "a server error"
    assert server_error(409, documented, upstream_down=False) is None


def test_the_response_checks_catch_an_answer_the_document_does_not_allow() -> None:
    """The fuzz's response checks bite: a body missing a required field, or a status the
    operation does not document, is reported."""
    schema = schemathesis.openapi.from_dict(admin_api_spec())
    case = schema["/admin/api/quiet.json"]["GET"].Case()

    def answer(status: int, body: dict[str, Any]) -> Response:
        return Response(
            status_code=status,
            headers={"Content-Type": ["application/json"]},
            content=json.dumps(body).encode(),
            request=requests.Request("GET", "http://127.0.0.1/admin/api/quiet.json").prepare(),
            elapsed=0.0,
            message="",
            encoding="utf-8",
            http_version="1.1",
            verify=False,
        )

    assert response_problems(case, answer(200, {"namespace": "x"})) == ["JsonSchemaError"]
    assert response_problems(case, answer(418, {"error": "teapot"})) == ["UndefinedStatusCode"]
    assert response_problems(case, answer(401, {"error": "no credentials"})) == []

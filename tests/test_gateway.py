"""The development gateway routes exactly as the Ingress does, and forwards faithfully."""

from __future__ import annotations

import pytest

from fortbridge.gateway import ROUTES, Route, backend_for, free_socket, serve_gateway
from fortbridge.registry import SERVICES
from tests.conftest import StackFactory
from tests.test_deploy_files import ingress_backend, k8s_name, objects, public_routes

KINDS = {"Exact": "Exact", "Prefix": "Prefix", "ImplementationSpecific": "Regex"}
BY_K8S_NAME = {k8s_name(name): name for name in SERVICES}


def ingress_routes() -> list[Route]:
    found = []
    for ingress in objects("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for entry in rule["http"]["paths"]:
                service = BY_K8S_NAME[entry["backend"]["service"]["name"]]
                found.append(Route(entry["path"], KINDS[entry["pathType"]], service))  # type: ignore[arg-type]
    return found


def test_the_gateway_table_is_the_ingress() -> None:
    assert sorted(ROUTES, key=repr) == sorted(ingress_routes(), key=repr)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_public_route_goes_where_the_ingress_sends_it(service: str) -> None:
    for path in public_routes(service):
        assert backend_for(path) == service, path
        assert k8s_name(backend_for(path) or "") == ingress_backend(path), path
    for path in ("/healthz", "/readyz", "/metrics", "/", "/_sim/faults"):
        assert backend_for(path) is None and ingress_backend(path) is None, path


async def test_requests_and_answers_pass_through_unchanged(stack_factory: StackFactory) -> None:
    stack = await stack_factory(services=("ingest", "mapper"))
    backends = {name: stack.url(name, "") for name in stack.apps}
    with free_socket() as sock:
        async with serve_gateway(sock, backends) as gateway:
            settings = f"{gateway}/admin/api/integrations/fortnox/settings.json?shop={stack.shop}"
            async with stack.http.get(settings) as response:
                assert response.status == 200
                version = (await response.json())["version"]
            change = {"settings": {"trigger": "paid"}, "version": version}
            async with stack.http.put(settings, json=change) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["settings"]["trigger"] == "paid"
            # Redirects reach the browser as they are; unrouted paths are not served.
            async with stack.http.get(f"{gateway}/app", allow_redirects=False) as response:
                assert response.status == 301 and response.headers["Location"] == "/app/"
            async with stack.http.get(f"{gateway}/healthz") as response:
                assert response.status == 404
            # The query string reaches the owner (a bad status filter is refused by ingest).
            orders = f"{gateway}/admin/api/orders/fortnox_invoices.json?shop={stack.shop}&status=x"
            async with stack.http.get(orders) as response:
                assert response.status == 400 and "status must be one of" in await response.text()

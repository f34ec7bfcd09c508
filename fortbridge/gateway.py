"""The development gateway: one origin for the app and the admin API, as the Ingress makes it.

In production the Ingress (deploy/k8s/base/ingress.yaml) sends each public path to the service
that owns it, so the app's pages and every admin endpoint share the app URL. Locally each
service listens on its own port; this gateway listens on one and forwards each request to the
owner with the same table and the same matching (Exact, Prefix by whole path elements,
ingress-nginx regex; the longest path wins). ``tests/test_gateway.py`` checks the table is the
Ingress's. Paths no rule names (``/healthz``, ``/metrics``) answer 404, as outside the cluster.

Development-only routes (``fortbridge demo --serve``'s test order) can be added under
``/_dev/``; they are the gateway's own, never forwarded, and absent from the Ingress.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

Kind = Literal["Exact", "Prefix", "Regex"]


@dataclass(frozen=True)
class Route:
    path: str
    kind: Kind  # Regex: the Ingress's ImplementationSpecific path (ingress-nginx use-regex)
    service: str  # the owning service's name (Kubernetes: fortbridge-<name with dashes>)


# The Ingress's rules, in its order (deploy/k8s/base/ingress.yaml; a test keeps them equal).
ROUTES: tuple[Route, ...] = (
    Route("/webhooks", "Prefix", "ingest"),
    Route("/admin/api/orders", "Prefix", "timeline"),
    Route("/admin/api/integrations/fortnox/failed_jobs.json", "Exact", "replayer"),
    Route("/admin/api/integrations/fortnox/failed_jobs", "Prefix", "replayer"),
    Route("/admin/api/integrations/fortnox/retry.json", "Exact", "replayer"),
    Route("/admin/api/quiet.json", "Exact", "replayer"),
    Route("/auth/fortnox", "Prefix", "fortnox_writer"),
    Route("/admin/api/integrations/fortnox/connection.json", "Exact", "fortnox_writer"),
    Route("/admin/api/integrations/fortnox/connection", "Prefix", "fortnox_writer"),
    Route("/admin/api/integrations/fortnox/preflight.json", "Exact", "fortnox_writer"),
    Route("/admin/api/integrations/fortnox/preflight", "Prefix", "fortnox_writer"),
    Route("/admin/api/billing", "Prefix", "fortnox_writer"),
    Route("/admin/api/openapi.json", "Exact", "ingest"),
    Route("/auth/shopify", "Prefix", "ingest"),
    Route("/admin/api/integrations/fortnox/reconciliation.json", "Exact", "ingest"),
    Route("/admin/api/inventory/status.json", "Exact", "ingest"),
    Route("/admin/api/webhooks/set_aside.json", "Exact", "ingest"),
    Route("/admin/api/backfills.json", "Exact", "ingest"),
    Route("/admin/api/backfills", "Prefix", "ingest"),
    Route("/admin/api/reconciliation_reports.json", "Exact", "fortnox_writer"),
    Route("/admin/api/reconciliation_reports", "Prefix", "fortnox_writer"),
    Route("/admin/api/integrations/shopify/installation.json", "Exact", "ingest"),
    Route("/admin/api/customers", "Prefix", "ingest"),
    Route("/admin/api/products", "Prefix", "ingest"),
    Route("/admin/api/orders/fortnox_invoices.json", "Exact", "ingest"),
    Route("/app", "Prefix", "ingest"),
    Route("/admin/api/integrations/fortnox/settings.json", "Exact", "mapper"),
    Route("/admin/api/integrations/fortnox/settings", "Prefix", "mapper"),
    Route("/admin/api/integrations/fortnox/mapping_rules.json", "Exact", "mapper"),
    Route("/admin/api/integrations/fortnox/mapping_rules", "Prefix", "mapper"),
    Route("/admin/api/orders/[^/]+/fortnox_invoice(_status)?[.]json", "Regex", "ingest"),
)

# Hop-by-hop headers (RFC 9110 7.6.1) and those the client library sets itself.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
DevHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def backend_for(path: str, routes: tuple[Route, ...] = ROUTES) -> str | None:
    """The service a request path goes to, by the Ingress's matching rules (None: no rule)."""
    best: tuple[tuple[int, bool], str] | None = None
    got = [part for part in path.split("/") if part]
    for route in routes:
        if route.kind == "Exact":
            matched = path == route.path
        elif route.kind == "Regex":
            matched = re.fullmatch(route.path, path) is not None
        else:
            wanted = [part for part in route.path.split("/") if part]
            matched = got[: len(wanted)] == wanted
        rank = (len(route.path.rstrip("/")), route.kind == "Exact")
        if matched and (best is None or rank > best[0]):
            best = (rank, route.service)
    return None if best is None else best[1]


def _forwarded_headers(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The end-to-end headers (repeated ones, such as Set-Cookie, kept)."""
    return CIMultiDict((name, value) for name, value in headers.items() if name.lower() not in _HOP)


def gateway_app(
    backends: Mapping[str, str], dev_routes: Mapping[str, DevHandler] | None = None
) -> web.Application:
    """The gateway: ``backends`` maps a service name to its base URL (``http://127.0.0.1:port``)."""
    app = web.Application(client_max_size=5 * 1024 * 1024)
    dev = dict(dev_routes or {})
    session_key = web.AppKey("gateway_session", aiohttp.ClientSession)

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        # The browser follows redirects itself; nothing here decompresses or pools by host.
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            app[session_key] = session
            yield

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.path in dev:
            return await dev[request.path](request)
        service = backend_for(request.path)
        if service is None or service not in backends:
            return web.json_response({"error": f"no route for {request.path}"}, status=404)
        url = backends[service] + request.path_qs
        body = await request.read()
        async with request.app[session_key].request(
            request.method,
            url,
            headers=_forwarded_headers(request.headers),
            data=body if body else None,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            response = web.Response(
                status=upstream.status,
                body=payload,
                headers=_forwarded_headers(upstream.headers),
            )
        return response

    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def free_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket bound now, so the gateway's URL is known before the stack starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


@contextlib.asynccontextmanager
async def serve_gateway(
    sock: socket.socket,
    backends: Mapping[str, str],
    dev_routes: Mapping[str, DevHandler] | None = None,
) -> AsyncIterator[str]:
    """Run the gateway on ``sock``; yields its base URL."""
    runner = web.AppRunner(gateway_app(backends, dev_routes), access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()

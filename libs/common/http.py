"""The one HTTP app factory: every service's aiohttp app with /healthz, /readyz and /metrics.

Every request is counted and timed (``fortbridge_http_requests_total``,
``fortbridge_http_request_seconds``, by route template); every request but the health and
metrics endpoints is a SERVER span named ``{method} {route}`` with the HTTP semantic-convention
attributes, continuing a ``traceparent`` the caller sent.

Query strings never reach a log line or a span: they carry OAuth codes, states and launch
tickets (``/auth/*``). Spans record ``url.path`` only, and the access log
(:class:`AccessLogger`) writes the method, the path, the status, the size and the time, never
the query string, the Referer or a header. Every query parameter value is at most
``MAX_QUERY_VALUE`` characters (400 naming the parameter).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from libs.common import tracing
from libs.common.json_depth import depth_error, nests_deeper_than
from libs.common.limits import MAX_QUERY_VALUE
from libs.common.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS, child

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

SERVICE_NAME = web.AppKey("service_name", str)
READINESS = web.AppKey("readiness", list[ReadinessCheck])
FATAL = web.AppKey("fatal", list[str])

# Set to True on a request whose handler logs it in an aggregated line (see AccessLogger).
LOGGED_ELSEWHERE = web.RequestKey("logged_elsewhere", bool)
_UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})
_tracer = tracing.get_tracer(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(service: str) -> web.Application:
    """An app with the standard endpoints; services add their routes and readiness checks."""
    app = web.Application(
        client_max_size=5 * 1024 * 1024,
        middlewares=[_observe],
    )
    app[SERVICE_NAME] = service
    app[READINESS] = []
    app[FATAL] = []
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


def client_session(timeout: float = 60.0) -> aiohttp.ClientSession:
    """The one HTTP client session of a service (Fortnox and Shopify calls).

    aiohttp silently sends an idempotent request (GET, PUT, ...) a second time when the
    connection drops. Fortnox's actions are not idempotent in effect (a PUT /credit, a GET /email
    that sends an e-mail), so that hidden retry is turned off: every retry goes through the
    callers' exactly-once logic (which first reads what an earlier attempt did).
    """
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


def _route_of(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return None if resource is None else resource.canonical


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route_of(request)
    service = request.app[SERVICE_NAME]
    started = time.perf_counter()
    status = 500
    try:
        if route in _UNTRACED:
            response = await _refused(request) or await handler(request)
            status = response.status
            return response
        with _tracer.start_as_current_span(
            f"{request.method} {route}" if route else request.method,
            context=_caller_context(request),
            kind=SpanKind.SERVER,
            attributes=_server_attributes(request, route),
        ) as span:
            try:
                response = await _refused(request) or await handler(request)
                status = response.status
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
                    span.set_attribute("error.type", str(status))
            return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        label = route or "unmatched"
        child(HTTP_REQUESTS, service, label, request.method, str(status)).inc()
        child(HTTP_REQUEST_SECONDS, service, label).observe(time.perf_counter() - started)


async def _refused(request: web.Request) -> web.Response | None:
    """The answer to a request refused before its handler runs (checked in :func:`_observe`,
    the one middleware, so that a webhook pays for one coroutine layer, not three)."""
    return _refused_query(request) or await _refused_input(request)


def _refused_query(request: web.Request) -> web.Response | None:
    """400 for a query parameter longer than MAX_QUERY_VALUE, naming the parameter."""
    if not request.query_string:
        return None
    for name, value in request.query.items():
        if len(value) > MAX_QUERY_VALUE:
            return json_error(
                400,
                f"query parameter {name[:64]}: at most {MAX_QUERY_VALUE} characters",
                field=name[:64],
            )
    return None


class AccessLogger(AbstractAccessLogger):
    """One line per request without its query string: ``GET /auth/fortnox/callback 302 ...``.

    aiohttp's default access log writes the whole request line and the Referer, which would
    put OAuth codes and states in the logs. Requests whose handler logged them in an aggregated
    line of its own (:data:`LOGGED_ELSEWHERE`: ingest's accepted webhooks, logged once per group
    commit in services/ingest/intake.py) are left out; refused and failed ones never are.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.get(LOGGED_ELSEWHERE) and response.status < 400:
            return
        if not self.logger.isEnabledFor(logging.INFO):
            return
        self.logger.info(
            "%s %s %s %s %d %.3fs",
            request.remote or "-",
            request.method,
            request.path,
            response.status,
            response.body_length,
            time,
        )


async def _refused_input(request: web.Request) -> web.Response | None:
    """400 before any handler runs for input nothing after it could store or carry:

    - NUL characters in the path, query or body (no text column can store them);
    - a body nested deeper than ``MAX_JSON_DEPTH`` levels (libs/common/json_depth.py: pydantic,
      jsonb and the publisher fail on it later, as a 500).

    Webhooks are exempt: their HMAC is checked first (a bad one is 401), then ingest refuses
    the same things itself (services/ingest/webhook.py).
    """
    texts = [*request.match_info.values()]
    if request.query_string:
        texts.extend(request.query.values())
    verified_later = request.path.startswith("/webhooks/")
    # read() keeps the body, so handlers can read it again.
    body = await request.read() if request.body_exists and not verified_later else b""
    if any("\x00" in text for text in texts) or b"\x00" in body or b"\\u0000" in body:
        return json_error(400, "NUL characters are not allowed in a request")
    if nests_deeper_than(body):
        return json_error(400, depth_error())
    return None


def _caller_context(request: web.Request) -> Context | None:
    """The trace context the caller sent (W3C ``traceparent``), if any."""
    headers = request.headers
    if "traceparent" not in headers:
        return None
    return tracing.extract(
        {name: headers[name] for name in ("traceparent", "tracestate") if name in headers}
    )


def _server_attributes(request: web.Request, route: str | None) -> dict[str, str | int]:
    host, _, port = request.host.rpartition(":") if ":" in request.host else (request.host, "", "")
    attributes: dict[str, str | int] = {
        "http.request.method": request.method,
        "url.path": request.path,
        "url.scheme": request.scheme,
        "server.address": host,
        "network.protocol.version": f"{request.version.major}.{request.version.minor}",
    }
    if route:
        attributes["http.route"] = route
    if port.isdigit():
        attributes["server.port"] = int(port)
    if request.remote:
        attributes["client.address"] = request.remote
    if agent := request.headers.get("User-Agent"):
        attributes["user_agent.original"] = agent
    return attributes


async def _healthz(request: web.Request) -> web.Response:
    fatal = request.app[FATAL]
    if fatal:
        return web.json_response({"status": "failed", "errors": fatal}, status=503)
    return web.json_response({"status": "alive", "service": request.app[SERVICE_NAME]})


async def _readyz(request: web.Request) -> web.Response:
    checks: dict[str, bool] = {}
    for check in request.app[READINESS]:
        try:
            checks.update(await check())
        except Exception:
            checks[getattr(check, "__name__", "check")] = False
    ready = bool(checks) and all(checks.values())
    return web.json_response(
        {"ready": ready, "checks": checks, "service": request.app[SERVICE_NAME]},
        status=200 if ready else 503,
    )


async def _metrics(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def json_error(status: int, reason: str, **extra: object) -> web.Response:
    """An error answer with a plain-English reason."""
    return web.json_response({"error": reason, **extra}, status=status)

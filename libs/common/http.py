"""The one HTTP app factory: every service's aiohttp app with /healthz, /readyz and /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

SERVICE_NAME = web.AppKey("service_name", str)
READINESS = web.AppKey("readiness", list[ReadinessCheck])
FATAL = web.AppKey("fatal", list[str])


def create_app(service: str) -> web.Application:
    """An app with the standard endpoints; services add their routes and readiness checks."""
    app = web.Application(client_max_size=5 * 1024 * 1024)
    app[SERVICE_NAME] = service
    app[READINESS] = []
    app[FATAL] = []
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


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

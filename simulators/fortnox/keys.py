"""Typed keys for the aiohttp application and requests, and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from simulators.fortnox._state import Tenant
    from simulators.fortnox.simulator import FortnoxSimulator


@dataclass
class Caller:
    """Who is calling: resolved from the Bearer token (API) or the grant (OAuth)."""

    client_id: str | None = None
    tenant_id: str | None = None
    scopes: frozenset[str] = frozenset()
    fault: str | None = None


SIM_KEY: web.AppKey[FortnoxSimulator] = web.AppKey("fortnox_simulator")
CALLER_KEY: web.RequestKey[Caller] = web.RequestKey("fortnox_caller")


def simulator(request: web.Request) -> FortnoxSimulator:
    return request.app[SIM_KEY]


def caller(request: web.Request) -> Caller:
    return request[CALLER_KEY]


def tenant(request: web.Request) -> Tenant:
    """The tenant of the authenticated caller (API routes only)."""
    who = request[CALLER_KEY]
    assert who.tenant_id is not None
    return request.app[SIM_KEY].tenant(who.tenant_id)


def base_url(request: web.Request) -> str:
    return str(request.url.origin())

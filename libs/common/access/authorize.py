"""The one admin-API access check: who is calling, for which shop, with which scopes.

Accepted credentials, in ``Authorization: Bearer <credential>``:

1. A Shopify session token (JWT from App Bridge): the shop's staff, every scope, that shop only.
2. An operator API token (``fbt_...``, ``fortbridge tokens create``): its shop and scopes.
3. The deployment's ``ADMIN_API_TOKEN``: the operator of the deployment, every shop and scope.

401 without valid credentials, 403 without the scope or for another shop's ``?shop=``.

Operator access fails closed: with no ADMIN_API_TOKEN configured nobody is the operator. The one
exception is a local-development switch, ADMIN_API_ALLOW_LOOPBACK (off by default; the demo and
the test stack turn it on): then a request without credentials from a loopback address that
carries no proxy header (X-Forwarded-For, Forwarded, X-Real-IP, ...) is the local operator. A
reverse proxy on the same host connects from loopback, so the switch must stay off wherever a
proxy or an Ingress sits in front of the service.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from pathlib import Path

import asyncpg
from aiohttp import web

from libs.common.access.api_tokens import TOKEN_PREFIX, ApiTokenStore
from libs.common.access.principal import SCOPES, Principal
from libs.common.access.session_token import SessionTokenError, shop_of_session_token
from libs.common.settings import Settings

SCHEMA = "access"
MIGRATIONS = Path(__file__).parent / "migrations"

_OPERATOR = Principal(kind="operator", name="operator", shop=None, scopes=SCOPES)


def _error(cls: type[web.HTTPException], message: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json")


async def authorize(
    request: web.Request, settings: Settings, pool: asyncpg.Pool, *scopes: str
) -> Principal:
    """The caller, if it holds one of ``scopes`` (none named: any authenticated caller).

    When the request names ``?shop=``, the caller must be allowed to act for that shop.
    """
    principal = await _authenticate(request, settings, pool)
    if not principal.holds_any(scopes):
        raise _error(web.HTTPForbidden, f"this call needs one of the scopes: {', '.join(scopes)}")
    shop = request.query.get("shop")
    if shop and not principal.may_act_for(shop):
        raise _error(web.HTTPForbidden, "these credentials are not valid for that shop")
    return principal


async def _authenticate(request: web.Request, settings: Settings, pool: asyncpg.Pool) -> Principal:
    header = request.headers.get("Authorization", "")
    credential = header[7:].strip() if header[:7].lower() == "bearer " else ""
    operator_token = settings.admin_api_token.get_secret_value()
    if not credential:
        if not operator_token and settings.admin_api_allow_loopback and _from_loopback(request):
            return _OPERATOR
        raise _error(web.HTTPUnauthorized, "credentials are required (Authorization: Bearer ...)")
    if operator_token and hmac.compare_digest(credential.encode(), operator_token.encode()):
        return _OPERATOR
    if credential.startswith(TOKEN_PREFIX):
        principal = await ApiTokenStore(pool).principal(credential)
        if principal is None:
            raise _error(web.HTTPUnauthorized, "unknown or revoked API token")
        return principal
    if credential.count(".") == 2:
        try:
            shop = shop_of_session_token(
                credential,
                secret=settings.shopify_api_secret.get_secret_value(),
                audience=settings.shopify_api_key,
            )
        except SessionTokenError as exc:
            raise _error(web.HTTPUnauthorized, str(exc)) from exc
        return Principal(kind="session", name=f"session:{shop}", shop=shop, scopes=SCOPES)
    raise _error(web.HTTPUnauthorized, "credentials not recognised")


# Headers a proxy adds when it forwards a request: such a request did not start on this host.
PROXY_HEADERS = (
    "Forwarded",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Real-IP",
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
)


def _from_loopback(request: web.Request) -> bool:
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def authorize_for_shop(
    request: web.Request, settings: Settings, pool: asyncpg.Pool, *scopes: str
) -> tuple[Principal, str]:
    """:func:`authorize`, then the shop the call is about (400 when the operator names none)."""
    principal = await authorize(request, settings, pool, *scopes)
    shop = shop_in_scope(principal, request)
    if not shop:
        raise _error(web.HTTPBadRequest, "query parameter shop is required")
    return principal, shop


def shop_in_scope(principal: Principal, request: web.Request) -> str | None:
    """The shop a call is about: the caller's own shop, else ``?shop=`` (operator)."""
    return principal.shop or request.query.get("shop") or None


async def authorize_operator(
    request: web.Request, settings: Settings, pool: asyncpg.Pool
) -> Principal:
    """The deployment's operator only (ADMIN_API_TOKEN; locally, loopback without one), for
    deployment-wide views: no shop's credentials may see every shop's traffic."""
    principal = await authorize(request, settings, pool, "manage_apps")
    if principal.shop is not None:
        raise _error(
            web.HTTPForbidden,
            "only the deployment's operator (ADMIN_API_TOKEN) may call this: it reports the "
            "whole deployment, every shop's traffic",
        )
    return principal

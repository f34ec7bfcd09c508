"""OAuth endpoints at the real paths: /oauth-v1/auth, /oauth-v1/token, /oauth-v1/revoke.

- ``GET /oauth-v1/auth?client_id&redirect_uri&scope&state&access_type=offline&response_type=code``
  auto-consents (no login page) for a tenant chosen by, in order: the ``tenant_id`` query
  parameter (simulator extension), ``sim.default_tenant_for_consent`` (also settable with
  ``POST /_sim/consent_tenant``), or the only tenant if there is exactly one. Answers 302 to
  ``redirect_uri?code=...&state=...``; with ``sim.deny_consent`` set it redirects with
  ``error=access_denied``; unknown scopes redirect with ``error=invalid_scope``.
- ``POST /oauth-v1/token`` with ``Authorization: Basic base64(client_id:client_secret)`` and a form
  body: ``grant_type=authorization_code`` (code, redirect_uri), ``refresh_token``
  (refresh_token) or ``client_credentials`` (header ``TenantId``; no refresh token issued).
  Answers ``{"access_token", "refresh_token", "scope", "expires_in", "token_type": "bearer"}``.
  Bad client credentials: 401 ``invalid_client``; bad/used/expired grants: 400
  ``invalid_grant`` (see tokens.py for the single-use refresh rule).
- ``POST /oauth-v1/revoke`` (Basic auth, form ``token``): revokes that refresh token's connection.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

from aiohttp import web

from simulators.fortnox import keys
from simulators.fortnox._state import Client
from simulators.fortnox.errors import OAuthError
from simulators.fortnox.wire import json_response


def _redirect(redirect_uri: str, params: dict[str, str]) -> web.Response:
    separator = "&" if "?" in redirect_uri else "?"
    location = f"{redirect_uri}{separator}{urlencode(params)}"
    return web.Response(status=302, headers={"Location": location})


async def authorize(request: web.Request) -> web.Response:
    sim = keys.simulator(request)
    query = request.query
    client = sim.clients.get(query.get("client_id", ""))
    if client is None:
        raise OAuthError(400, "invalid_client", "Unknown client_id")
    redirect_uri = query.get("redirect_uri", "")
    if not redirect_uri or (client.redirect_uris and redirect_uri not in client.redirect_uris):
        raise OAuthError(400, "invalid_request", "Invalid redirect_uri")
    state = query.get("state", "")
    extra = {"state": state} if state else {}
    if query.get("response_type", "code") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", **extra})
    scopes = set(query.get("scope", "").split()) or set(client.scopes)
    if not scopes <= client.scopes:
        return _redirect(redirect_uri, {"error": "invalid_scope", **extra})
    tenant_id = query.get("tenant_id") or sim.default_tenant_for_consent
    if tenant_id is None and len(sim.tenants) == 1:
        tenant_id = next(iter(sim.tenants))
    if tenant_id is None or tenant_id not in sim.tenants:
        raise OAuthError(400, "invalid_request", "No tenant to consent for")
    if sim.deny_consent:
        return _redirect(redirect_uri, {"error": "access_denied", **extra})
    who = keys.caller(request)
    who.client_id, who.tenant_id = client.client_id, tenant_id
    code = sim.issue_authorization_code(client.client_id, tenant_id, redirect_uri, scopes)
    return _redirect(redirect_uri, {"code": code, **extra})


def _basic_client(request: web.Request) -> Client:
    sim = keys.simulator(request)
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "Client authentication failed") from None
    client_id, _, secret = decoded.partition(":")
    client = sim.clients.get(client_id)
    if client is None or client.client_secret != secret:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    keys.caller(request).client_id = client_id
    return client


async def token(request: web.Request) -> web.Response:
    sim = keys.simulator(request)
    client = _basic_client(request)
    form = await request.post()
    grant_type = str(form.get("grant_type", ""))
    who = keys.caller(request)
    if grant_type == "authorization_code":
        code = str(form.get("code", ""))
        record = sim.tokens.codes.get(code)
        who.tenant_id = record.tenant_id if record else None
        pair = sim.tokens.redeem_code(client.client_id, code, str(form.get("redirect_uri", "")))
    elif grant_type == "refresh_token":
        refresh = str(form.get("refresh_token", ""))
        who.tenant_id = sim.tokens.tenant_of_refresh(refresh)
        pair = sim.tokens.refresh_grant(client.client_id, refresh)
    elif grant_type == "client_credentials":
        tenant_id = request.headers.get("TenantId", "")
        if tenant_id not in sim.tenants:
            raise OAuthError(400, "invalid_request", "Invalid TenantId")
        who.tenant_id = tenant_id
        pair = sim.tokens.issue(client.client_id, tenant_id, client.scopes, with_refresh=False)
    else:
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")
    who.tenant_id = pair.access.tenant_id
    return json_response(pair.response())


async def revoke(request: web.Request) -> web.Response:
    sim = keys.simulator(request)
    client = _basic_client(request)
    form = await request.post()
    refresh = str(form.get("token", ""))
    keys.caller(request).tenant_id = sim.tokens.tenant_of_refresh(refresh)
    sim.tokens.revoke_refresh(client.client_id, refresh)
    return web.Response(status=200)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/oauth-v1/auth", authorize)
    app.router.add_post("/oauth-v1/token", token)
    app.router.add_post("/oauth-v1/revoke", revoke)

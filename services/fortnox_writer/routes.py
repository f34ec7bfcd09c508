"""The writer's HTTP routes: connecting Fortnox (OAuth) and the connection's status."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.common.access import authorize
from libs.common.crypto import TokenCipher
from libs.common.errors import TransientError
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.service import Runtime, runtime_of
from services.fortnox_writer import oauth
from services.fortnox_writer.connections import (
    RECONNECT_ADVICE,
    ConnectionStore,
    TokenEndpointError,
    connect_with_code,
)
from services.fortnox_writer.deferred import DeferredStore

log = get_logger(__name__)

BASE = "/admin/api/integrations/fortnox"

STATES = {
    "connected": "Connected: Fortbridge syncs to Fortnox.",
    "needs_reconnection": "Needs reconnection: Fortnox refused the connection, so syncs are "
    "parked (kept, not failed) until the merchant reconnects Fortnox.",
    "not_connected": "Not connected: Fortnox has never been connected for this shop; syncs are "
    "parked until it is.",
}


def _store(runtime: Runtime) -> ConnectionStore:
    cipher = TokenCipher(runtime.settings.token_encryption_keys.get_secret_value())
    return ConnectionStore(runtime.pool, cipher, runtime.http, runtime.settings)


def _shop(request: web.Request) -> str:
    shop = request.query.get("shop", "").strip().lower()
    if not oauth.valid_shop(shop):
        raise web.HTTPBadRequest(
            text='{"error": "shop must be a shop domain like example.myshopify.com"}',
            content_type="application/json",
        )
    return shop


async def start(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    shop = _shop(request)
    features = [f for f in request.query.get("features", "").split(",") if f]
    try:
        scopes = oauth.scopes_for(features)
    except ValueError as exc:
        return json_error(400, str(exc))
    settings = runtime.settings
    state = oauth.sign_state(
        oauth.signing_key(settings), shop, settings.fortnox_state_ttl_seconds, features
    )
    raise web.HTTPFound(oauth.authorize_url(settings, state, scopes))


async def callback(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    try:
        state = oauth.verify_state(oauth.signing_key(settings), request.query.get("state", ""))
    except oauth.StateError as exc:
        return json_error(400, f"Fortnox connection refused: {exc}")
    if "error" in request.query:
        reason = request.query.get("error_description") or request.query["error"]
        return json_error(
            400, f"Fortnox did not grant access ({reason}); start connecting again", shop=state.shop
        )
    code = request.query.get("code", "")
    if not code:
        return json_error(400, "Fortnox sent no authorization code", shop=state.shop)
    try:
        tenant_id = await connect_with_code(
            _store(runtime),
            runtime.http,
            settings,
            shop=state.shop,
            code=code,
            redirect_uri=settings.fortnox_redirect_url,
        )
    except TokenEndpointError as exc:
        log.warning("fortnox code exchange refused", shop=state.shop, error=exc.error)
        return json_error(
            400,
            f"Fortnox refused the authorization ({exc.description or exc.error}); "
            "start connecting again",
            shop=state.shop,
        )
    except TransientError as exc:
        return json_error(502, f"Fortnox could not be reached: {exc.message}; try again")
    log.info("fortnox connected", shop=state.shop, tenant=tenant_id)
    return web.json_response(
        {
            "shop": state.shop,
            "tenant_id": tenant_id,
            "status": "connected",
            "message": "Fortnox is connected. Parked syncs, if any, resume by themselves.",
        }
    )


async def connection_status(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal = await authorize(request, runtime.settings, runtime.pool, "read_integrations")
    shop = principal.shop or _shop(request)
    row = await _store(runtime).status(shop)
    counts = await DeferredStore(runtime.pool, "admin").counts(shop)
    body: dict[str, Any] = {
        "shop": shop,
        "status": "not_connected" if row is None else row["status"],
        "parked_commands": counts.get("parked", 0),
        "waiting_commands": counts.get("rate_limit", 0) + counts.get("retry", 0),
        "reconnect_url": f"/auth/fortnox/start?shop={shop}",
    }
    body["meaning"] = STATES.get(body["status"], body["status"])
    if row is not None:
        body.update(
            tenant_id=row["tenant_id"],
            scopes=row["scopes"].split(),
            reason=row["status_reason"],
            access_token_expires_at=row["expires_at"].isoformat(),
            refreshed_at=row["refreshed_at"].isoformat() if row["refreshed_at"] else None,
            updated_at=row["updated_at"].isoformat(),
        )
    if body["status"] != "connected":
        body["what_to_do"] = RECONNECT_ADVICE
    return web.json_response({"connection": body})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/auth/fortnox/start", start)
    app.router.add_get("/auth/fortnox/callback", callback)
    app.router.add_get(f"{BASE}/connection.json", connection_status)

"""The writer's HTTP routes: connecting Fortnox (OAuth) and the connection's status.

Connecting (docs/security.md, "Connecting Fortnox"):

- ``POST /auth/fortnox/start.json``: a caller authenticated for the shop (session token, an
  operator API token with ``write_integrations``, or ADMIN_API_TOKEN with ``?shop=``) gets a
  single-use launch ticket: ``{"launch_url", "expires_in"}``. Anonymous: 401, nothing stored.
- ``GET /auth/fortnox/launch?ticket=``: the browser, at top level, redeems the ticket; the
  writer stores the state's nonce, sets a cookie bound to it and sends the browser to Fortnox.
- ``GET /auth/fortnox/callback?code&state``: Fortnox sends the browser back. Signature, expiry,
  the nonce (consumed once), the cookie, then the company (``switching.py``); the browser is
  sent on to ``FORTNOX_CONNECT_RETURN_URL`` with ``?fortnox=connected`` or
  ``?fortnox=error&reason=<code>``; ``Accept: application/json`` gets JSON instead.

No code, state or ticket is logged or put on a span (libs/common/http.py keeps query strings out
of both); the launch and callback answers carry ``Referrer-Policy: no-referrer`` so the browser
does not pass them on to the next page either.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web

from libs.common.access import Principal, authorize_for_shop
from libs.common.crypto import TokenCipher
from libs.common.errors import TransientError
from libs.common.http import json_error
from libs.common.limits import MAX_NAME, FieldError, text_field
from libs.common.logs import get_logger
from libs.common.service import Runtime, runtime_of
from libs.common.settings import Settings
from services.fortnox_writer import oauth, switching
from services.fortnox_writer.connect_flow import ConnectFlow, FlowRefused
from services.fortnox_writer.connections import (
    RECONNECT_ADVICE,
    ConnectionStore,
    TokenEndpointError,
    exchange_code,
)
from services.fortnox_writer.deferred import DeferredStore
from services.fortnox_writer.preflight.store import PreflightStore

log = get_logger(__name__)

BASE = "/admin/api/integrations/fortnox"
START_PATH = "/auth/fortnox/start.json"
LAUNCH_PATH = "/auth/fortnox/launch"
CALLBACK_PATH = "/auth/fortnox/callback"
COOKIE = "fortbridge_fortnox_connect"
COOKIE_PATH = "/auth/fortnox"
MAX_COMMAND_IDS = 1000
PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

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


async def _caller(request: web.Request, scope: str) -> tuple[Principal, str]:
    runtime = runtime_of(request)
    principal, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, scope)
    if not oauth.valid_shop(shop):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "shop must be a shop domain like example.myshopify.com"}),
            content_type="application/json",
        )
    return principal, shop


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FieldError("body", "not valid JSON") from exc
    if not isinstance(body, dict):
        raise FieldError("body", "a JSON object is required")
    return body


def _field_error(exc: FieldError, status: int = 422) -> web.Response:
    return json_error(status, str(exc), field=exc.field)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- POST /auth/fortnox/start.json ----------------------------------------------------------


def parse_start(body: dict[str, Any]) -> tuple[list[str], bool]:
    """(features, switch_company) from the start body; FieldError names a bad field."""
    unknown = sorted(set(body) - {"features", "switch_company"})
    if unknown:
        raise FieldError(unknown[0][:MAX_NAME], "unknown field (features, switch_company)")
    features = body.get("features", [])
    if not isinstance(features, list) or len(features) > len(oauth.FEATURE_SCOPES):
        raise FieldError("features", f"a list of at most {len(oauth.FEATURE_SCOPES)} names")
    names = [text_field(f, "features", MAX_NAME) or "" for f in features]
    try:
        oauth.scopes_for(names)
    except ValueError as exc:
        raise FieldError("features", str(exc)) from exc
    switch = body.get("switch_company", False)
    if not isinstance(switch, bool):
        raise FieldError("switch_company", "true or false")
    return sorted(set(names)), switch


async def start(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    principal, shop = await _caller(request, "write_integrations")
    try:
        features, switch_company = parse_start(await _json_object(request))
    except FieldError as exc:
        return _field_error(exc)
    ttl = settings.fortnox_connect_ticket_ttl_seconds
    ticket = await ConnectFlow(runtime.pool).issue_ticket(
        shop=shop,
        principal=principal.name,
        features=features,
        switch_company=switch_company,
        ttl=ttl,
    )
    log.info(
        "fortnox connect started", shop=shop, actor=principal.name, switch_company=switch_company
    )
    launch = _origin(settings.fortnox_redirect_url) + LAUNCH_PATH
    return web.json_response(
        {
            "shop": shop,
            "launch_url": f"{launch}?{urlencode({'ticket': ticket})}",
            "expires_in": int(ttl),
        },
        headers={"Cache-Control": "no-store"},
    )


# --- GET /auth/fortnox/launch ----------------------------------------------------------------


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=PRIVATE_HEADERS)


async def launch(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    flow = ConnectFlow(runtime.pool)
    try:
        attempt = await flow.redeem_ticket(request.query.get("ticket", ""))
    except FlowRefused as exc:
        log.info("fortnox launch refused", reason=exc.code)
        return _plain(400, f"Fortnox connection not started: {exc.message}.")
    key = oauth.signing_key(settings)
    ttl = settings.fortnox_state_ttl_seconds
    nonce = await flow.open_state(attempt, ttl)
    state = oauth.sign_state(
        key, attempt.shop, ttl, attempt.features, nonce=nonce, tenant=attempt.current_tenant
    )
    location = oauth.authorize_url(settings, state, oauth.scopes_for(attempt.features))
    response = web.Response(status=302, headers={"Location": location, **PRIVATE_HEADERS})
    response.set_cookie(
        COOKIE,
        oauth.browser_binding(key, nonce),
        max_age=int(ttl),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=urlsplit(settings.fortnox_redirect_url).scheme == "https",
    )
    log.info("fortnox consent requested", shop=attempt.shop)
    return response


# --- GET /auth/fortnox/callback --------------------------------------------------------------


def return_url(settings: Settings, params: dict[str, str]) -> str:
    base = settings.fortnox_connect_return_url or (settings.shopify_app_url.rstrip("/") + "/app/")
    parts = urlsplit(base)
    query = [*parse_qsl(parts.query), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Finish:
    """The callback's answer: a redirect to the app, or JSON for API clients."""

    def __init__(self, request: web.Request, settings: Settings) -> None:
        self._settings = settings
        self._json = "application/json" in request.headers.get("Accept", "")

    def _done(self, response: web.Response) -> web.Response:
        response.headers.update(PRIVATE_HEADERS)
        response.del_cookie(COOKIE, path=COOKIE_PATH)
        return response

    def refused(
        self, code: str, message: str, status: int = 400, shop: str | None = None
    ) -> web.Response:
        log.warning("fortnox connection refused", shop=shop, reason=code)
        if self._json:
            body = {"error": message, "reason": code, **({"shop": shop} if shop else {})}
            return self._done(web.json_response(body, status=status))
        params = {"fortnox": "error", "reason": code, **({"shop": shop} if shop else {})}
        return self._done(
            web.Response(status=302, headers={"Location": return_url(self._settings, params)})
        )

    def connected(self, shop: str, outcome: switching.ConnectOutcome) -> web.Response:
        if self._json:
            body = {
                "shop": shop,
                "status": "connected",
                "action": outcome.action,
                "tenant_id": outcome.tenant_id,
                "company_name": outcome.company_name,
                "previous_tenant_id": outcome.previous_tenant,
                "held_commands": outcome.held,
                "message": _connected_message(outcome),
            }
            return self._done(web.json_response(body))
        params = {"fortnox": "connected", "shop": shop}
        if outcome.action == "switched":
            params["switched"] = "1"
        return self._done(
            web.Response(status=302, headers={"Location": return_url(self._settings, params)})
        )


def _connected_message(outcome: switching.ConnectOutcome) -> str:
    if outcome.action == "switched":
        return (
            "Fortnox is connected to the new company. Syncs made for the previous company "
            f"({outcome.held}) are held back: release them to the new company or discard them "
            "(POST /admin/api/integrations/fortnox/connection/release.json)."
        )
    return "Fortnox is connected. Parked syncs, if any, resume by themselves."


async def callback(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    finish = _Finish(request, settings)
    key = oauth.signing_key(settings)
    try:
        state = oauth.verify_state(key, request.query.get("state", ""))
    except oauth.StateError as exc:
        return finish.refused("invalid_state", f"Fortnox connection refused: {exc}")
    shop = state.shop
    if not oauth.binding_matches(key, state.nonce, request.cookies.get(COOKIE)):
        return finish.refused(
            "other_browser",
            "Fortnox connection refused: this connection was started in another browser (or "
            "its cookie is gone); start connecting again from the app, in this browser",
            shop=shop,
        )
    try:
        attempt = await ConnectFlow(runtime.pool).consume_state(state.nonce, shop)
    except FlowRefused as exc:
        code = {"used": "state_used", "expired": "expired"}.get(exc.code, "invalid_state")
        return finish.refused(code, f"Fortnox connection refused: {exc.message}", shop=shop)
    if "error" in request.query:
        reason = (request.query.get("error_description") or request.query["error"])[:200]
        return finish.refused(
            "denied", f"Fortnox did not grant access ({reason}); start connecting again", shop=shop
        )
    code = request.query.get("code", "")
    if not code:
        return finish.refused("no_code", "Fortnox sent no authorization code", shop=shop)
    store = _store(runtime)
    try:
        grant = await exchange_code(
            store,
            runtime.http,
            settings,
            shop=shop,
            code=code,
            redirect_uri=settings.fortnox_redirect_url,
        )
    except TokenEndpointError as exc:
        log.warning("fortnox code exchange refused", shop=shop, error=exc.error)
        return finish.refused(
            "exchange_failed",
            f"Fortnox refused the authorization ({exc.description or exc.error}); "
            "start connecting again",
            shop=shop,
        )
    except TransientError as exc:
        message = f"Fortnox could not be reached: {exc.message}; try again"
        return finish.refused("fortnox_unreachable", message, 502, shop)
    try:
        outcome = await switching.complete_connection(
            store,
            shop=shop,
            grant=grant,
            actor=attempt.principal,
            switch_company=attempt.switch_company,
            expected_tenant=state.tenant,
        )
    except switching.ConnectRefused as exc:
        return finish.refused(exc.code, f"Fortnox connection refused: {exc.message}", 409, shop)
    if outcome.held:
        await switching.announce_held(runtime.pool, runtime.publisher, shop)
    await PreflightStore(runtime.pool).mark_due(shop)  # the pre-flight check runs at connect
    return finish.connected(shop, outcome)


# --- the connection's status, and the work a company switch held back ----------------------


async def connection_status(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await _caller(request, "read_integrations")
    row = await _store(runtime).status(shop)
    counts = await DeferredStore(runtime.pool, "admin").counts(shop)
    body: dict[str, Any] = {
        "shop": shop,
        "status": "not_connected" if row is None else row["status"],
        "parked_commands": counts.get("parked", 0),
        "waiting_commands": counts.get("rate_limit", 0) + counts.get("retry", 0),
        "held_commands": counts.get("held", 0),
        "reconnect_url": START_PATH,
        "connect": {
            "method": "POST",
            "url": START_PATH,
            "body": {"features": ["orders", "payments"], "switch_company": False},
        },
    }
    body["meaning"] = STATES.get(body["status"], body["status"])
    if row is not None:
        body.update(
            tenant_id=row["tenant_id"],
            company_name=row["company_name"],
            scopes=row["scopes"].split(),
            reason=row["status_reason"],
            access_token_expires_at=row["expires_at"].isoformat(),
            refreshed_at=row["refreshed_at"].isoformat() if row["refreshed_at"] else None,
            updated_at=row["updated_at"].isoformat(),
            switched_at=row["switched_at"].isoformat() if row["switched_at"] else None,
            switched_from_tenant_id=row["switched_from_tenant"],
        )
    if body["status"] != "connected":
        body["what_to_do"] = RECONNECT_ADVICE
    if body["held_commands"]:
        body["held"] = await switching.held_commands(runtime.pool, shop)
        body["what_to_do_with_held"] = (
            "These syncs were made for the Fortnox company the shop was connected to before the "
            "switch. Release them to the company connected now, or discard them: POST "
            f"{BASE}/connection/release.json with "
            '{"action": "release"} or {"action": "discard"} (optionally "command_ids"). '
            "Connecting the previous company again resumes them by themselves."
        )
    body["history"] = await switching.audit_log(runtime.pool, shop)
    return web.json_response({"connection": body})


def parse_release(body: dict[str, Any]) -> tuple[str, list[str] | None]:
    unknown = sorted(set(body) - {"action", "command_ids"})
    if unknown:
        raise FieldError(unknown[0][:MAX_NAME], "unknown field (action, command_ids)")
    action = body.get("action")
    if action not in ("release", "discard"):
        raise FieldError("action", '"release" or "discard" is required')
    ids = body.get("command_ids")
    if ids is None:
        return str(action), None
    if not isinstance(ids, list) or not ids or len(ids) > MAX_COMMAND_IDS:
        raise FieldError("command_ids", f"a list of 1 to {MAX_COMMAND_IDS} command ids")
    return str(action), [text_field(i, "command_ids", MAX_NAME) or "" for i in ids]


async def release_held(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal, shop = await _caller(request, "write_integrations")
    try:
        action, ids = parse_release(await _json_object(request))
    except FieldError as exc:
        return _field_error(exc)
    if action == "release":
        count = await switching.release_held(runtime.pool, shop, principal.name, ids)
    else:
        count = await switching.discard_held(
            runtime.pool, runtime.publisher, shop, principal.name, ids
        )
    remaining = (await DeferredStore(runtime.pool, "admin").counts(shop)).get("held", 0)
    return web.json_response(
        {"shop": shop, "action": action, "commands": count, "held_commands": remaining}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(START_PATH, start)
    app.router.add_get(LAUNCH_PATH, launch)
    app.router.add_get(CALLBACK_PATH, callback)
    app.router.add_get(f"{BASE}/connection.json", connection_status)
    app.router.add_post(f"{BASE}/connection/release.json", release_held)

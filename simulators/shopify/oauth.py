"""Shopify's OAuth for apps: install consent, the code exchange and token exchange.

GET  /shops/{shop}/admin/oauth/authorize     the merchant approves at once: 302 to redirect_uri
                                             with code, hmac, host, shop, state, timestamp
POST /shops/{shop}/admin/oauth/access_token  {client_id, client_secret, code} (JSON or form)
                                             -> {access_token, scope}; or token exchange:
                                             grant_type=urn:ietf:params:oauth:grant-type:
                                             token-exchange with a session token (JWT)
POST /_sim/apps                              {"client_id", "client_secret", "scopes"?,
                                              "exchange_answers_scope"?}
GET  /_sim/shops/{shop}/webhook_subscriptions

Codes are single-use and expire after ``CODE_TTL_SECONDS``. The hmac is Shopify's: hex
HMAC-SHA256, keyed with the app's client secret, over the other parameters sorted by name and
joined as ``k=v&k=v``. A granted token is accepted on GraphQL calls beside the shop's own.

Scopes (docs/simulators.md, *Token exchange*): what the app holds on a shop is remembered per
shop and app. A code exchange grants what the merchant approved (the authorize ``scope``: a new
grant holds what it asked for). A token exchange's token carries the app's configured scopes
and the ones granted to the app on that shop before, optional ones included (a shop that
approved ``read_all_orders`` keeps it; one that did not does not gain it). The answer names
them in ``scope`` unless the app was registered with ``"exchange_answers_scope": false``
(shopify.md is silent on it; the product must work either way: it then reads
``currentAppInstallation { accessScopes { handle } }``). Uninstalling forgets the shop's grants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import jwt
from aiohttp import web

from .subscriptions import subscription_node

if TYPE_CHECKING:
    from .simulator import ShopifySimulator

CODE_TTL_SECONDS = 60.0
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
DEFAULT_APP_SCOPES = "read_orders,write_orders,read_products,read_customers"
_SCOPE_RE = re.compile(r"^(unauthenticated_)?(read|write)_[a-z_]+$")


@dataclass
class RegisteredApp:
    client_id: str
    client_secret: str
    scopes: str = DEFAULT_APP_SCOPES
    # Does a token exchange's answer name its scopes (``scope``)? shopify.md does not say.
    exchange_answers_scope: bool = True


@dataclass
class Grant:
    shop: str
    client_id: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class OAuthState:
    """Apps registered on the simulator and the codes handed out."""

    clock: Callable[[], float] = time.time
    apps: dict[str, RegisteredApp] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    # The scopes each app holds on each shop (shop, client id), in the order granted.
    granted: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def exchange_scopes(self, app: RegisteredApp, shop: str) -> tuple[str, ...]:
        """A token exchange's scopes: the app's configured ones and what the shop granted it."""
        configured = [part.strip() for part in app.scopes.split(",") if part.strip()]
        held = self.granted.get((shop, app.client_id), ())
        scopes = tuple(dict.fromkeys([*configured, *held]))
        self.granted[(shop, app.client_id)] = scopes
        return scopes

    def forget(self, shop: str) -> None:
        """The app is uninstalled from the shop: its grants there go."""
        for key in [key for key in self.granted if key[0] == shop]:
            del self.granted[key]


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Shopify's signature of a redirect's query string (``hmac`` itself left out)."""
    signed = sorted((k, v) for k, v in params.items() if k not in ("hmac", "signature"))
    message = "&".join(f"{key}={value}" for key, value in signed)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _scope_list(raw: str) -> list[str] | None:
    scopes: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not _SCOPE_RE.match(part):
            return None
        if part not in scopes:
            scopes.append(part)
    return scopes


def oauth_routes(sim: ShopifySimulator) -> list[web.RouteDef]:
    state = sim.oauth

    async def authorize(request: web.Request) -> web.StreamResponse:
        domain = request.match_info["shop"].lower()
        if domain not in sim.shops:
            return web.json_response({"errors": "Not Found"}, status=404)
        query = request.query
        app = state.apps.get(query.get("client_id", ""))
        if app is None:
            return _oauth_error(400, "invalid_request", "The client_id is not a registered app")
        redirect_uri = query.get("redirect_uri", "")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return _oauth_error(400, "invalid_request", "The redirect_uri is missing or invalid")
        scopes = _scope_list(query.get("scope", ""))
        if scopes is None:
            return _oauth_error(400, "invalid_scope", "The scope is not valid")
        code = secrets.token_hex(16)
        state.codes[code] = Grant(
            domain, app.client_id, ",".join(scopes), state.clock() + CODE_TTL_SECONDS
        )
        store = domain.removesuffix(".myshopify.com")
        host = base64.b64encode(f"admin.shopify.com/store/{store}".encode()).decode().rstrip("=")
        params = {
            "code": code,
            "host": host,
            "shop": domain,
            "state": query.get("state", ""),
            "timestamp": str(int(state.clock())),
        }
        params["hmac"] = query_hmac(params, app.client_secret)
        separator = "&" if parts.query else "?"
        raise web.HTTPFound(redirect_uri + separator + urlencode(params))

    async def access_token(request: web.Request) -> web.Response:
        domain = request.match_info["shop"].lower()
        shop = sim.shops.get(domain)
        if shop is None:
            return web.json_response({"errors": "Not Found"}, status=404)
        body: Mapping[str, Any]
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return _oauth_error(400, "invalid_request", "The body is not valid JSON")
        else:
            body = await request.post()
        if not isinstance(body, Mapping):
            return _oauth_error(400, "invalid_request", "The body must be an object")
        app = state.apps.get(str(body.get("client_id", "")))
        secret = str(body.get("client_secret", ""))
        if app is None or not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        exchanged = body.get("grant_type") == TOKEN_EXCHANGE
        if exchanged:
            if not _valid_session_token(app, domain, body):
                return _oauth_error(400, "invalid_subject_token", "The session token is invalid")
            scope = ",".join(state.exchange_scopes(app, domain))
        else:
            grant = state.codes.get(str(body.get("code", "")))
            if grant is None or grant.used or grant.shop != domain:
                return _oauth_error(
                    400, "invalid_request", "The authorization code was not found or was used"
                )
            grant.used = True
            if grant.client_id != app.client_id or grant.expires_at < state.clock():
                return _oauth_error(400, "invalid_request", "The authorization code has expired")
            scope = grant.scope
            state.granted[(domain, app.client_id)] = tuple(p for p in scope.split(",") if p)
        token = f"simtok_{secrets.token_hex(16)}"
        shop.granted_tokens.add(token)
        shop.token_scopes[token] = frozenset(part for part in scope.split(",") if part)
        if exchanged and not app.exchange_answers_scope:
            return web.json_response({"access_token": token})
        return web.json_response({"access_token": token, "scope": scope})

    async def register_app(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("client_id", "client_secret")
        ):
            return web.json_response(
                {"error": "expected {'client_id', 'client_secret', 'scopes'?}"}, status=400
            )
        app = sim.register_app(
            body["client_id"],
            body["client_secret"],
            scopes=body.get("scopes", DEFAULT_APP_SCOPES),
            exchange_answers_scope=body.get("exchange_answers_scope") is not False,
        )
        return web.json_response({"client_id": app.client_id, "scopes": app.scopes}, status=201)

    async def subscriptions(request: web.Request) -> web.Response:
        domain = request.match_info["shop"].lower()
        if domain not in sim.shops:
            return web.json_response({"error": f"unknown shop {domain}"}, status=404)
        subs = sim.shops[domain].webhook_subscriptions.values()
        return web.json_response([subscription_node(sub) for sub in subs])

    return [
        web.get("/shops/{shop}/admin/oauth/authorize", authorize),
        web.post("/shops/{shop}/admin/oauth/access_token", access_token),
        web.post("/_sim/apps", register_app),
        web.get("/_sim/shops/{shop}/webhook_subscriptions", subscriptions),
    ]


def _valid_session_token(app: RegisteredApp, domain: str, body: Mapping[str, Any]) -> bool:
    """Is the body's session token a valid one of this shop and app (for an offline token)?"""
    if body.get("subject_token_type") != ID_TOKEN:
        return False
    if body.get("requested_token_type", OFFLINE_TOKEN) != OFFLINE_TOKEN:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            claims = jwt.decode(
                str(body.get("subject_token", "")),
                app.client_secret,
                algorithms=["HS256"],
                audience=app.client_id,
                options={"require": ["exp", "nbf", "dest", "aud"]},
            )
    except jwt.PyJWTError:
        return False
    return urlsplit(str(claims["dest"])).hostname == domain

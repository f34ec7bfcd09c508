"""Connecting a shop to Fortnox, the pure parts: scopes, the signed state, the browser cookie.

The flow (routes.py, connect_flow.py): an authenticated caller gets a single-use launch ticket
(``POST /auth/fortnox/start.json``); the browser redeems it at ``GET /auth/fortnox/launch``,
which stores a nonce, sets a cookie bound to it and answers 302 to Fortnox's ``/oauth-v1/auth``
with the scopes the shop's features need, ``access_type=offline`` and the state made here; the
callback checks all of it (routes.py).

The state names the shop, the nonce, the tenant the shop was connected to when the flow
started (or none) and its expiry, and is signed with HMAC-SHA256 (``FORTNOX_STATE_SIGNING_KEY``).
The cookie is an HMAC of the nonce under the same key (with its own label), so only the browser
that launched the flow holds it; someone who merely knows the state cannot make it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from libs.common.settings import Settings

SHOP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")

# Scopes every connection needs: the tenant, customers and articles, invoices.
BASE_SCOPES = ("companyinformation", "customer", "article", "invoice")
# Extra scopes by feature (``?features=orders,payments``).
FEATURE_SCOPES: dict[str, tuple[str, ...]] = {
    "invoices": (),
    "orders": ("order",),
    "credits": (),
    "payments": ("payment", "bookkeeping"),
    "currencies": ("currency",),
    "settings": ("settings",),
    "payouts": ("bookkeeping", "currency"),
    # Inventory sync: whether the company uses Fortnox Lager (stock points) is read through the
    # warehouse API, which needs this scope (docs/accounting.md, Inventory).
    "inventory": ("warehouse",),
}


class StateError(ValueError):
    """The state does not prove that this app started the flow (or it is too old)."""


@dataclass(frozen=True)
class OAuthState:
    shop: str
    expires_at: float
    features: tuple[str, ...] = ()
    nonce: str = ""
    tenant: str | None = None  # the tenant the shop was connected to when the flow started


def valid_shop(shop: str) -> bool:
    return bool(SHOP_PATTERN.match(shop))


def scopes_for(features: Iterable[str]) -> list[str]:
    scopes = list(BASE_SCOPES)
    for feature in features:
        if feature not in FEATURE_SCOPES:
            raise ValueError(f"unknown feature {feature!r}; known: {', '.join(FEATURE_SCOPES)}")
        scopes.extend(scope for scope in FEATURE_SCOPES[feature] if scope not in scopes)
    return scopes


def signing_key(settings: Settings) -> bytes:
    """FORTNOX_STATE_SIGNING_KEY, or (local runs) a key derived from the client secret."""
    key = settings.fortnox_state_signing_key.get_secret_value()
    if key:
        return key.encode()
    secret = settings.fortnox_client_secret.get_secret_value().encode()
    return hashlib.sha256(b"fortbridge-oauth-state:" + secret).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_secret() -> str:
    """A random single-use value (launch ticket, state nonce): 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """What the database keeps of a ticket or a nonce."""
    return hashlib.sha256(secret.encode()).digest()


def browser_binding(key: bytes, nonce: str) -> str:
    """The cookie value that binds the browser which launched the flow to the state's nonce."""
    return _b64(
        hmac.new(key, b"fortbridge-fortnox-browser:" + nonce.encode(), hashlib.sha256).digest()
    )


def binding_matches(key: bytes, nonce: str, cookie: str | None) -> bool:
    if not cookie or not nonce:
        return False
    return hmac.compare_digest(
        browser_binding(key, nonce).encode(), cookie.encode("utf-8", "replace")
    )


def sign_state(
    key: bytes,
    shop: str,
    ttl: float,
    features: Iterable[str] = (),
    *,
    nonce: str | None = None,
    tenant: str | None = None,
    now: float | None = None,
) -> str:
    claims = {
        "shop": shop,
        "exp": int((now if now is not None else time.time()) + ttl),
        "features": list(features),
        "nonce": nonce if nonce is not None else new_secret(),
        "tenant": tenant,
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def verify_state(key: bytes, state: str, *, now: float | None = None) -> OAuthState:
    payload, _, signature = state.partition(".")
    if not payload or not signature:
        raise StateError("the state parameter is missing or malformed")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    # Bytes, not str: compare_digest refuses str with non-ASCII characters (a forged state).
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise StateError("the state parameter is not signed by Fortbridge (forged or altered)")
    try:
        claims = json.loads(_unb64(payload))
        shop, expires_at = str(claims["shop"]), float(claims["exp"])
        features = tuple(str(f) for f in claims.get("features", []))
        nonce = str(claims["nonce"])
        tenant = None if claims.get("tenant") is None else str(claims["tenant"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError("the state parameter cannot be read") from exc
    if expires_at < (now if now is not None else time.time()):
        raise StateError("the connection attempt expired; start connecting Fortnox again")
    return OAuthState(shop, expires_at, features, nonce, tenant)


def authorize_url(settings: Settings, state: str, scopes: Iterable[str]) -> str:
    params = {
        "client_id": settings.fortnox_client_id,
        "redirect_uri": settings.fortnox_redirect_url,
        "scope": " ".join(scopes),
        "state": state,
        "access_type": "offline",
        "response_type": "code",
    }
    return settings.fortnox_auth_url.rstrip("/") + "/oauth-v1/auth?" + urlencode(params)

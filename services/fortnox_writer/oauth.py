"""Connecting a shop to Fortnox: the authorization URL, a signed state, the callback.

``GET /auth/fortnox/start?shop=`` answers 302 to Fortnox's ``/oauth-v1/auth`` with the scopes the
shop's features need, ``access_type=offline`` and a state that names the shop, expires and is
signed with HMAC-SHA256 (``FORTNOX_STATE_SIGNING_KEY``). ``GET /auth/fortnox/callback`` checks
the state (a forged, altered or expired one is a 400 that says so), exchanges the code with
Basic client authentication, reads the tenant (companyinformation, through the rate limiter) and
stores the connection encrypted. Parked commands of the shop then resume by themselves.
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
}


class StateError(ValueError):
    """The state does not prove that this app started the flow (or it is too old)."""


@dataclass(frozen=True)
class OAuthState:
    shop: str
    expires_at: float
    features: tuple[str, ...] = ()


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


def sign_state(
    key: bytes, shop: str, ttl: float, features: Iterable[str] = (), *, now: float | None = None
) -> str:
    claims = {
        "shop": shop,
        "exp": int((now if now is not None else time.time()) + ttl),
        "features": list(features),
        "nonce": secrets.token_urlsafe(12),
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
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError("the state parameter cannot be read") from exc
    if expires_at < (now if now is not None else time.time()):
        raise StateError("the connection attempt expired; start connecting Fortnox again")
    return OAuthState(shop, expires_at, features)


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

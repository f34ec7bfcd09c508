"""Shopify session tokens: the JWT that App Bridge gives the embedded admin page.

HS256-signed with the app's client secret; ``dest`` is ``https://{shop}``, ``aud`` the app's
client id; ``exp`` and ``nbf`` are checked (with a few seconds of leeway for clock skew).
"""

from __future__ import annotations

import secrets
import time
import uuid
import warnings
from urllib.parse import urlsplit

import jwt

LEEWAY_SECONDS = 5


class SessionTokenError(ValueError):
    pass


def shop_of_session_token(token: str, *, secret: str, audience: str) -> str:
    """The shop domain a valid session token was issued for; raises SessionTokenError."""
    try:
        with warnings.catch_warnings():
            # The key is the app's client secret as Shopify issued it; its length is not ours.
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "nbf", "dest", "aud"]},
            )
    except jwt.PyJWTError as exc:
        raise SessionTokenError(f"invalid session token: {exc}") from exc
    dest = urlsplit(str(claims["dest"]))
    shop = dest.hostname or ""
    if dest.scheme != "https" or not shop.endswith(".myshopify.com"):
        raise SessionTokenError("invalid session token: dest is not a shop's https address")
    issuer = str(claims.get("iss", ""))
    if issuer and urlsplit(issuer).hostname != shop:
        raise SessionTokenError("invalid session token: iss and dest name different shops")
    return shop


def issue_session_token(
    shop: str, *, secret: str, audience: str, ttl_seconds: int = 60, user_id: str = "1"
) -> str:
    """A session token for ``shop`` made exactly as Shopify makes them (HS256 with the app's
    client secret, a minute's life): the app's development login and tests use it."""
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": audience,
        "sub": user_id,
        "exp": now + ttl_seconds,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": secrets.token_hex(16),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm="HS256")

"""Access to admin endpoints, checked in one place.

Until per-shop scoped tokens land (the admin API issue), an operator presents
``Authorization: Bearer <ADMIN_API_TOKEN>``; with no token configured (local runs) the check is
open. Every admin handler goes through :func:`require_admin`, so the scoped check replaces this
one function.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from libs.common.settings import Settings


def require_admin(request: web.Request, settings: Settings, *scopes: str) -> None:
    """Raise 401 unless the request carries the operator token (scopes are checked later)."""
    expected = settings.admin_api_token.get_secret_value()
    if not expected:
        return
    header = request.headers.get("Authorization", "")
    presented = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise web.HTTPUnauthorized(
            text='{"error": "a valid admin API token is required"}',
            content_type="application/json",
        )

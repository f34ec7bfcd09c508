"""Fortnox connections per shop: tokens encrypted at rest, refreshes serialized across replicas.

Fortnox refresh tokens are single use: two refreshes in parallel break the connection. Every
refresh runs under a PostgreSQL advisory lock for the shop and re-reads the row inside it, so only
one replica ever spends a given refresh token; the others see the new access token.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from libs.common.crypto import TokenCipher
from libs.common.errors import NeedsReconnection, TransientError
from libs.common.logs import get_logger
from libs.common.metrics import FORTNOX_TOKEN_REFRESHES
from libs.common.settings import Settings
from services.fortnox_writer.ratelimit import RateLimiter

log = get_logger(__name__)

# A token is refreshed once less than this share of its lifetime is left, or the configured
# margin if that is shorter: a short-lived token is not refreshed before every request.
REFRESH_MARGIN_SHARE = 0.25

RECONNECT_ADVICE = (
    "Fortnox no longer accepts this shop's connection, so Fortbridge has paused (parked) its "
    "syncs; nothing is lost. Reconnect Fortnox from the app and the parked syncs resume by "
    "themselves."
)


@dataclass(frozen=True)
class Connection:
    shop: str
    tenant_id: str
    access_token: str
    expires_at: datetime
    status: str


class TokenEndpointError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class ConnectionStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        cipher: TokenCipher,
        http: aiohttp.ClientSession,
        settings: Settings,
    ) -> None:
        self._pool = pool
        self._cipher = cipher
        self._http = http
        self._settings = settings
        self._margin = timedelta(seconds=settings.fortnox_refresh_margin_seconds)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def token_request(self, form: dict[str, str]) -> dict[str, Any]:
        """POST to Fortnox's token endpoint with Basic client authentication."""
        auth = aiohttp.BasicAuth(
            self._settings.fortnox_client_id,
            self._settings.fortnox_client_secret.get_secret_value(),
        )
        url = self._settings.fortnox_auth_url.rstrip("/") + "/oauth-v1/token"
        try:
            async with self._http.post(url, data=form, auth=auth) as response:
                payload = await response.json(content_type=None)
                if response.status != 200:
                    payload = payload if isinstance(payload, dict) else {}
                    raise TokenEndpointError(
                        response.status,
                        str(payload.get("error", "error")),
                        str(payload.get("error_description", "")),
                    )
                return dict(payload)
        except aiohttp.ClientError as exc:
            raise TransientError(f"Fortnox token endpoint unreachable: {exc}") from exc

    async def save(
        self,
        shop: str,
        tenant_id: str,
        tokens: dict[str, Any],
        *,
        company_name: str | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> None:
        """Store (or replace) a shop's connection from a token response.

        Whether a replacement is allowed (same company, or a switch the merchant asked for) is
        decided before, by ``switching.complete_connection``; pass its transaction as ``conn``.
        """
        expires_at = datetime.now(UTC) + timedelta(seconds=int(tokens.get("expires_in", 3600)))
        refresh = tokens.get("refresh_token")
        await (conn or self._pool).execute(
            """
            INSERT INTO fortnox_writer.connections
                (shop, tenant_id, access_token, refresh_token, expires_at, scopes, status,
                 status_reason, refreshed_at, updated_at, company_name)
            VALUES ($1, $2, $3, $4, $5, $6, 'connected', NULL, now(), now(), $7)
            ON CONFLICT (shop) DO UPDATE SET
                tenant_id = EXCLUDED.tenant_id, access_token = EXCLUDED.access_token,
                refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at,
                scopes = EXCLUDED.scopes, status = 'connected', status_reason = NULL,
                refreshed_at = now(), updated_at = now(),
                company_name = COALESCE(EXCLUDED.company_name, connections.company_name)
            """,
            shop,
            tenant_id,
            self._cipher.encrypt(tokens["access_token"]),
            self._cipher.encrypt(refresh) if refresh else None,
            expires_at,
            str(tokens.get("scope", "")),
            company_name,
        )

    async def get(
        self, shop: str, *, force_refresh: bool = False, refused_token: str | None = None
    ) -> Connection:
        """The shop's connection with an access token valid for a while.

        ``refused_token``: Fortnox answered 401 to this token. It is refreshed only while it is
        still the stored one: requests of any replica that saw it refused together spend the
        single-use refresh token once, and one that reads the row after another refreshed takes
        the new token instead of refreshing again. ``force_refresh`` refreshes whatever is
        stored (an operator's or a test's explicit refresh).
        """
        row = await self._pool.fetchrow(
            "SELECT * FROM fortnox_writer.connections WHERE shop = $1", shop
        )
        self._check_usable(shop, row)
        assert row is not None
        if refused_token is not None:
            current = self._connection(row)
            if current.access_token != refused_token:
                FORTNOX_TOKEN_REFRESHES.labels(outcome="already_refreshed").inc()
                return current
            return await self._refresh(shop, seen_access_token=bytes(row["access_token"]))
        margin = refresh_margin(self._margin, row["refreshed_at"], row["expires_at"])
        if force_refresh or row["expires_at"] - datetime.now(UTC) < margin:
            return await self._refresh(shop, seen_access_token=bytes(row["access_token"]))
        return self._connection(row)

    async def _refresh(self, shop: str, *, seen_access_token: bytes) -> Connection:
        failure: str | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"refresh:{shop}"
            )
            row = await conn.fetchrow(
                "SELECT * FROM fortnox_writer.connections WHERE shop = $1 FOR UPDATE", shop
            )
            self._check_usable(shop, row)
            assert row is not None
            if bytes(row["access_token"]) != seen_access_token:
                FORTNOX_TOKEN_REFRESHES.labels(outcome="already_refreshed").inc()
                return self._connection(row)  # another replica refreshed meanwhile
            tokens: dict[str, Any] | None = None
            refresh_token = (
                self._cipher.decrypt(row["refresh_token"]) if row["refresh_token"] else None
            )
            if refresh_token is None:
                failure = "the connection has no refresh token"
            else:
                try:
                    tokens = await self.token_request(
                        {"grant_type": "refresh_token", "refresh_token": refresh_token}
                    )
                except TokenEndpointError as exc:
                    if exc.status not in (400, 401):
                        FORTNOX_TOKEN_REFRESHES.labels(outcome="error").inc()
                        raise TransientError(f"token refresh failed: {exc}") from exc
                    failure = (
                        "Fortnox refused the refresh token "
                        f"({exc.description or exc.error}): the consent was revoked in Fortnox, "
                        "the connection went unused for 45 days, or it was renewed elsewhere"
                    )
            if failure is not None or tokens is None:
                FORTNOX_TOKEN_REFRESHES.labels(outcome="refused").inc()
                await conn.execute(
                    """
                    UPDATE fortnox_writer.connections
                    SET status = 'needs_reconnection', status_reason = $2, updated_at = now()
                    WHERE shop = $1
                    """,
                    shop,
                    failure,
                )
            else:
                expires_at = datetime.now(UTC) + timedelta(
                    seconds=int(tokens.get("expires_in", 3600))
                )
                updated = await conn.fetchrow(
                    """
                    UPDATE fortnox_writer.connections
                    SET access_token = $2, refresh_token = $3, expires_at = $4,
                        refreshed_at = now(), updated_at = now()
                    WHERE shop = $1 RETURNING *
                    """,
                    shop,
                    self._cipher.encrypt(tokens["access_token"]),
                    self._cipher.encrypt(tokens.get("refresh_token") or refresh_token or ""),
                    expires_at,
                )
                FORTNOX_TOKEN_REFRESHES.labels(outcome="refreshed").inc()
                log.info("fortnox token refreshed", shop=shop)
                return self._connection(updated)
        log.warning("fortnox connection needs reconnection", shop=shop, reason=failure)
        raise NeedsReconnection(
            str(failure),
            code="needs_reconnection",
            explanation=f"{failure}. {RECONNECT_ADVICE}",
        )

    async def mark_needs_reconnection(self, shop: str, reason: str) -> None:
        """Fortnox refused the connection (licence, scope, consent): the merchant must act."""
        await self._pool.execute(
            """
            UPDATE fortnox_writer.connections
            SET status = 'needs_reconnection', status_reason = $2, updated_at = now()
            WHERE shop = $1 AND status = 'connected'
            """,
            shop,
            reason,
        )
        log.warning("fortnox connection needs reconnection", shop=shop, reason=reason)

    async def status(self, shop: str) -> asyncpg.Record | None:
        """The connection's row without its tokens (for the admin API)."""
        return await self._pool.fetchrow(
            """
            SELECT shop, tenant_id, company_name, status, status_reason, scopes, expires_at,
                   refreshed_at, updated_at, switched_at, switched_from_tenant
            FROM fortnox_writer.connections WHERE shop = $1
            """,
            shop,
        )

    def _check_usable(self, shop: str, row: asyncpg.Record | None) -> None:
        if row is None:
            raise NeedsReconnection(
                f"no Fortnox connection for {shop}",
                code="not_connected",
                explanation="Fortnox is not connected for this shop. Connect it, then replay.",
            )
        if row["status"] != "connected":
            raise NeedsReconnection(
                f"Fortnox connection of {shop} needs reconnection: {row['status_reason']}",
                code="needs_reconnection",
                explanation=f"{row['status_reason']}. {RECONNECT_ADVICE}",
            )

    def _connection(self, row: asyncpg.Record) -> Connection:
        try:
            access_token = self._cipher.decrypt(row["access_token"])
        except ValueError as exc:
            # The keys in TOKEN_ENCRYPTION_KEYS no longer include the one this token was
            # encrypted with: the connection is unusable until the key is restored or the shop
            # reconnects. Its commands are parked, not failed.
            raise NeedsReconnection(
                f"the stored Fortnox token of {row['shop']} cannot be decrypted",
                code="token_undecryptable",
                explanation=(
                    "The stored Fortnox token cannot be decrypted with the configured keys"
                    " (TOKEN_ENCRYPTION_KEYS lost the key it was encrypted with). Restore that"
                    f" key, or reconnect Fortnox. {RECONNECT_ADVICE}"
                ),
            ) from exc
        return Connection(
            shop=row["shop"],
            tenant_id=row["tenant_id"],
            access_token=access_token,
            expires_at=row["expires_at"],
            status=row["status"],
        )


def refresh_margin(
    configured: timedelta, refreshed_at: datetime | None, expires_at: datetime
) -> timedelta:
    """How long before expiry to refresh: the configured margin, capped at a share of the
    token's lifetime (from when it was issued to when it expires)."""
    if refreshed_at is None:
        return configured
    lifetime = expires_at - refreshed_at
    return min(configured, max(timedelta(0), lifetime * REFRESH_MARGIN_SHARE))


@dataclass(frozen=True)
class Grant:
    """What an authorization code gave: tokens for one Fortnox company (tenant)."""

    tokens: dict[str, Any]
    tenant_id: str
    company_name: str | None


async def exchange_code(
    store: ConnectionStore,
    http: aiohttp.ClientSession,
    settings: Settings,
    *,
    shop: str,
    code: str,
    redirect_uri: str,
    limiter: RateLimiter | None = None,
) -> Grant:
    """Exchange an authorization code and read which company it is for; stores nothing.

    The companyinformation call is a Fortnox request like any other: it takes a rate-limit
    slot of the tenant named in the access token's JWT claim.
    """
    tokens = await store.token_request(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    )
    limiter = limiter or RateLimiter(
        store.pool, limit=settings.fortnox_rate_limit, window=settings.fortnox_rate_window_seconds
    )
    await limiter.acquire(jwt_tenant(str(tokens["access_token"])) or f"shop:{shop}")
    url = settings.fortnox_api_url.rstrip("/") + "/3/companyinformation"
    try:
        async with http.get(
            url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ) as response:
            payload = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError(f"Fortnox companyinformation unreachable: {exc}") from exc
    information = payload.get("CompanyInformation") if isinstance(payload, dict) else None
    if status != 200 or not isinstance(information, dict) or not information.get("DatabaseNumber"):
        raise TokenEndpointError(status, "companyinformation", "the company could not be read")
    name = information.get("CompanyName")
    return Grant(
        tokens=tokens,
        tenant_id=str(information["DatabaseNumber"]),
        company_name=str(name)[:200] if name else None,
    )


def jwt_tenant(access_token: str) -> str | None:
    """The ``tenantId`` claim of a Fortnox JWT access token (unverified: only a limiter key)."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    tenant = claims.get("tenantId") if isinstance(claims, dict) else None
    return None if tenant is None else str(tenant)

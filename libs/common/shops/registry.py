"""Installations: one row per shop, with its encrypted offline token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from libs.common.crypto import TokenCipher

SCHEMA = "shops"
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Installation:
    shop: str
    status: str
    scopes: str
    installed_at: datetime
    uninstalled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "installed"


class ShopRegistry:
    def __init__(self, pool: asyncpg.Pool, cipher: TokenCipher) -> None:
        self._pool = pool
        self._cipher = cipher

    async def install(self, shop: str, access_token: str, scopes: str = "") -> None:
        """Record an install (or re-install) with the shop's offline token."""
        await self._pool.execute(
            """
            INSERT INTO shops.installations (shop, access_token, scopes, status)
            VALUES ($1, $2, $3, 'installed')
            ON CONFLICT (shop) DO UPDATE SET access_token = EXCLUDED.access_token,
                scopes = EXCLUDED.scopes, status = 'installed', uninstalled_at = NULL,
                installed_at = CASE WHEN installations.status = 'installed'
                    THEN installations.installed_at ELSE now() END,
                updated_at = now()
            """,
            shop,
            self._cipher.encrypt(access_token),
            scopes,
        )

    async def uninstall(self, shop: str) -> bool:
        """Stop work for a shop: its token is deleted (Shopify revoked it anyway)."""
        status: str = await self._pool.execute(
            """
            UPDATE shops.installations SET status = 'uninstalled', access_token = NULL,
                uninstalled_at = now(), updated_at = now()
            WHERE shop = $1 AND status = 'installed'
            """,
            shop,
        )
        return status.endswith(" 1")

    async def forget(self, shop: str) -> None:
        """shop/redact: remove the shop's row altogether."""
        await self._pool.execute("DELETE FROM shops.installations WHERE shop = $1", shop)

    async def access_token(self, shop: str) -> str | None:
        """The offline token of an installed shop, else None."""
        value = await self._pool.fetchval(
            "SELECT access_token FROM shops.installations WHERE shop = $1 AND status = 'installed'",
            shop,
        )
        return None if value is None else self._cipher.decrypt(value)

    async def installation(self, shop: str) -> Installation | None:
        row = await self._pool.fetchrow(
            "SELECT shop, status, scopes, installed_at, uninstalled_at"
            " FROM shops.installations WHERE shop = $1",
            shop,
        )
        return None if row is None else Installation(**dict(row))

    async def rotate_keys(self) -> int:
        """Re-encrypt every stored token with the newest key; returns how many."""
        rows = await self._pool.fetch(
            "SELECT shop, access_token FROM shops.installations WHERE access_token IS NOT NULL"
        )
        for row in rows:
            await self._pool.execute(
                "UPDATE shops.installations SET access_token = $2 WHERE shop = $1",
                row["shop"],
                self._cipher.rotate(row["access_token"]),
            )
        return len(rows)


async def is_uninstalled(conn: asyncpg.Pool | asyncpg.Connection, shop: str) -> bool:
    """True once a shop uninstalled the app (shops never installed through it are not)."""
    status = await conn.fetchval("SELECT status FROM shops.installations WHERE shop = $1", shop)
    return bool(status == "uninstalled")

"""Shopify access tokens per shop, encrypted at rest (the install flow and the CLI store them)."""

from __future__ import annotations

import asyncpg

from libs.common.crypto import TokenCipher


async def store_shopify_token(
    pool: asyncpg.Pool, cipher: TokenCipher, shop: str, access_token: str
) -> None:
    await pool.execute(
        """
        INSERT INTO timeline.shop_credentials (shop, access_token) VALUES ($1, $2)
        ON CONFLICT (shop) DO UPDATE SET access_token = EXCLUDED.access_token, updated_at = now()
        """,
        shop,
        cipher.encrypt(access_token),
    )

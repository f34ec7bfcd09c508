"""Operator API tokens: created by the CLI, stored hashed, scoped to one shop, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from libs.common.access.principal import Principal, parse_scopes
from libs.common.limits import MAX_NAME

TOKEN_PREFIX = "fbt_"


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str
    shop: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class TokenInfo:
    id: int
    prefix: str
    shop: str
    scopes: frozenset[str]
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class ApiTokenStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, shop: str, scopes: str | frozenset[str], label: str = "") -> IssuedToken:
        """A new token; its plain text is returned once and never stored."""
        if len(label) > MAX_NAME:
            raise ValueError(f"label: at most {MAX_NAME} characters")
        wanted = parse_scopes(scopes) if isinstance(scopes, str) else parse_scopes(",".join(scopes))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = await self._pool.fetchval(
            "INSERT INTO access.api_tokens (token_hash, prefix, shop, scopes, label)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            _hash(token),
            token[:8],
            shop,
            sorted(wanted),
            label,
        )
        return IssuedToken(id=token_id, token=token, shop=shop, scopes=wanted)

    async def revoke(self, token_id: int) -> bool:
        status: str = await self._pool.execute(
            "UPDATE access.api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            token_id,
        )
        return status.endswith(" 1")

    async def tokens(self, shop: str | None = None) -> list[TokenInfo]:
        rows = await self._pool.fetch(
            "SELECT id, prefix, shop, scopes, label, created_at, last_used_at, revoked_at"
            " FROM access.api_tokens WHERE $1::text IS NULL OR shop = $1 ORDER BY id",
            shop,
        )
        return [
            TokenInfo(
                id=row["id"],
                prefix=row["prefix"],
                shop=row["shop"],
                scopes=frozenset(row["scopes"]),
                label=row["label"],
                created_at=row["created_at"],
                last_used_at=row["last_used_at"],
                revoked_at=row["revoked_at"],
            )
            for row in rows
        ]

    async def principal(self, token: str) -> Principal | None:
        """The caller a presented token stands for, or None if unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = await self._pool.fetchrow(
            "UPDATE access.api_tokens SET last_used_at = now()"
            " WHERE token_hash = $1 AND revoked_at IS NULL"
            " RETURNING id, prefix, shop, scopes",
            _hash(token),
        )
        if row is None:
            return None
        return Principal(
            kind="api_token",
            name=f"token:{row['id']}:{row['prefix']}",
            shop=row["shop"],
            scopes=frozenset(row["scopes"]),
        )

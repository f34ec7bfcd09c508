"""Re-encrypting stored tokens with the newest key of ``TOKEN_ENCRYPTION_KEYS``.

Rotation: prepend a new key (every replica keeps decrypting with the old one), deploy, run
``fortbridge keys rotate``, then drop the old key. Each value is swapped with a compare-and-set,
so a token a replica refreshed meanwhile (already under the new key) is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from cryptography.fernet import InvalidToken

from libs.common.crypto import TokenCipher


@dataclass(frozen=True)
class EncryptedColumns:
    table: str  # schema-qualified, from code, never from input
    key: str
    columns: tuple[str, ...]


# Every table that stores tokens encrypted with TOKEN_ENCRYPTION_KEYS.
TOKEN_TABLES = (
    EncryptedColumns("fortnox_writer.connections", "shop", ("access_token", "refresh_token")),
    EncryptedColumns("shops.installations", "shop", ("access_token",)),
    EncryptedColumns("timeline.shop_credentials", "shop", ("access_token",)),  # before shops
)


@dataclass
class RotationReport:
    rewritten: dict[str, int] = field(default_factory=dict)
    # Values no configured key decrypts (keep the old key until these are resolved).
    undecryptable: dict[str, list[str]] = field(default_factory=dict)


async def rotate_tokens(
    pool: asyncpg.Pool, cipher: TokenCipher, tables: tuple[EncryptedColumns, ...] = TOKEN_TABLES
) -> RotationReport:
    """Re-encrypt every stored token with the first key."""
    report = RotationReport()
    for spec in tables:
        exists = await pool.fetchval("SELECT to_regclass($1) IS NOT NULL", spec.table)
        if not exists:
            continue
        count = 0
        rows = await pool.fetch(f"SELECT {spec.key}, {', '.join(spec.columns)} FROM {spec.table}")
        for row in rows:
            for column in spec.columns:
                old = row[column]
                if old is None:
                    continue
                try:
                    new = cipher.rotate(bytes(old))
                except InvalidToken:
                    report.undecryptable.setdefault(spec.table, []).append(str(row[spec.key]))
                    continue
                status = await pool.execute(
                    f"UPDATE {spec.table} SET {column} = $3"
                    f" WHERE {spec.key} = $1 AND {column} = $2",
                    row[spec.key],
                    old,
                    new,
                )
                count += status == "UPDATE 1"
        report.rewritten[spec.table] = count
    return report

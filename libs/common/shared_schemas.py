"""Tables the shared libraries own (admin access, shop installations), migrated by everyone.

Every service applies these at start (migrations run under an advisory lock, so concurrent
starts are safe), as do ``fortbridge migrate`` and the CLI commands that use them.
"""

from __future__ import annotations

import asyncpg

from libs.common import access, database, shops

SHARED_SCHEMAS = (
    (access.SCHEMA, access.MIGRATIONS),
    (shops.SCHEMA, shops.MIGRATIONS),
)


async def migrate_shared(pool: asyncpg.Pool) -> list[str]:
    """Apply the shared schemas' pending migrations; returns what was applied."""
    applied: list[str] = []
    for schema, directory in SHARED_SCHEMAS:
        versions = await database.migrate(pool, schema, directory)
        applied += [f"{schema}:{version}" for version in versions]
    return applied

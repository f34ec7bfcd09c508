"""Links between a document and its corrections (``fortnox_writer.document_links``).

A reverse or update command acts on its target's *current* Fortnox document: the document
created under the target key, or, once a booked document has been corrected by credit and
re-invoice, the latest replacement. The link row is reserved (the intent) before the first
Fortnox call of the command, under a lease on the target key, so a retry acts on the same
document with the same replacement version; the credit and replacement numbers are filled in
as they are made.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from libs.common import database


@dataclass(frozen=True)
class Current:
    """The target's current Fortnox document."""

    target_key: str
    kind: str  # invoice | order
    number: str
    external_reference: str
    version: int  # 1: the document made by the create command; 2+: a replacement


@dataclass(frozen=True)
class Link:
    command_key: str
    target_key: str
    relation: str  # cancel | credit | update | replace
    original_number: str
    original_kind: str
    version: int
    credit_number: str | None
    replacement_reference: str | None
    replacement_number: str | None


class DocumentLinks:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def current(self, target_key: str) -> Current | None:
        """None while the target is not created yet."""
        row = await self._pool.fetchrow(
            """
            SELECT kind, document_number, external_reference FROM fortnox_writer.documents
            WHERE document_key = $1 AND status = 'created' AND document_number IS NOT NULL
            """,
            target_key,
        )
        if row is None:
            return None
        latest = await self._pool.fetchrow(
            """
            SELECT version, replacement_number, replacement_reference
            FROM fortnox_writer.document_links
            WHERE target_key = $1 AND replacement_number IS NOT NULL
            ORDER BY version DESC LIMIT 1
            """,
            target_key,
        )
        if latest is not None:
            return Current(
                target_key,
                "invoice",
                latest["replacement_number"],
                latest["replacement_reference"],
                latest["version"],
            )
        return Current(
            target_key, row["kind"], row["document_number"], row["external_reference"], 1
        )

    async def replacing(self, target_key: str, other_than: str) -> str | None:
        """The key of another command in the middle of replacing the target, if any."""
        value = await self._pool.fetchval(
            """
            SELECT command_key FROM fortnox_writer.document_links
            WHERE target_key = $1 AND command_key <> $2 AND relation = 'replace'
              AND replacement_number IS NULL
            LIMIT 1
            """,
            target_key,
            other_than,
        )
        return None if value is None else str(value)

    async def get(self, command_key: str) -> Link | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM fortnox_writer.document_links WHERE command_key = $1", command_key
        )
        return None if row is None else _link(row)

    async def reserve(
        self, command_key: str, current: Current, relation: str, *, new_version: bool
    ) -> Link:
        """The command's link, reserved on first sight (a retry gets the same one back).

        ``new_version``: the command may replace the document, so it takes the target's next
        version now (a version not used in the end is a harmless gap). The caller holds the
        target's lease, so two commands never take the same version.
        """
        row = await database.insert_or_read(
            self._pool,
            """
            WITH inserted AS (
                INSERT INTO fortnox_writer.document_links
                    (command_key, target_key, relation, original_number, original_kind, version)
                SELECT $1, $2, $3, $4, $5,
                       CASE WHEN $7 THEN GREATEST(
                           $6, (SELECT COALESCE(max(version), 1) FROM fortnox_writer.document_links
                                WHERE target_key = $2)) + 1
                       ELSE $6 END
                ON CONFLICT (command_key) DO NOTHING
                RETURNING *
            )
            SELECT * FROM inserted
            UNION ALL
            SELECT * FROM fortnox_writer.document_links WHERE command_key = $1
            LIMIT 1
            """,
            command_key,
            current.target_key,
            relation,
            current.number,
            current.kind,
            current.version,
            new_version,
        )
        return _link(row)

    async def set_relation(self, command_key: str, relation: str) -> None:
        await self._pool.execute(
            "UPDATE fortnox_writer.document_links SET relation = $2, updated_at = now()"
            " WHERE command_key = $1",
            command_key,
            relation,
        )

    async def set_credit(self, command_key: str, credit_number: str) -> None:
        await self._pool.execute(
            "UPDATE fortnox_writer.document_links SET credit_number = $2, updated_at = now()"
            " WHERE command_key = $1",
            command_key,
            credit_number,
        )

    async def set_replacement(self, command_key: str, reference: str, number: str | None) -> None:
        await self._pool.execute(
            """
            UPDATE fortnox_writer.document_links
            SET replacement_reference = $2, replacement_number = $3, updated_at = now()
            WHERE command_key = $1
            """,
            command_key,
            reference,
            number,
        )

    async def for_target(self, target_key: str) -> list[Link]:
        rows = await self._pool.fetch(
            "SELECT * FROM fortnox_writer.document_links WHERE target_key = $1"
            " ORDER BY version, created_at",
            target_key,
        )
        return [_link(row) for row in rows]


def _link(row: asyncpg.Record) -> Link:
    return Link(
        command_key=row["command_key"],
        target_key=row["target_key"],
        relation=row["relation"],
        original_number=row["original_number"],
        original_kind=row["original_kind"],
        version=row["version"],
        credit_number=row["credit_number"],
        replacement_reference=row["replacement_reference"],
        replacement_number=row["replacement_number"],
    )

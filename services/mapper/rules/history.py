"""How long rule-set versions are kept: a bounded history that keeps what work still names.

What names a rule-set version in Fortbridge (``rule_version``):

- every Fortnox command the mapper plans (``FortnoxCommand.rule_version``), while it waits in
  a queue or a wait queue, while the writer keeps it set aside (``fortnox_writer.
  deferred_commands``: rate limit, retry, parked until reconnection) and while it is a failed job
  (``replayer.failed_jobs``; a failed result message carries the version too);
- the sync result and the order's document state (``ingest.order_documents.rule_version``): a
  record of which version made a finished document. Nothing reads the rules back from it.

Nothing reads a version's rules back at run time: a command carries its planned document, a
retry sends the same command again, and a replayed Shopify event is mapped under the current
rules. A kept version is for people: what rules made this command.

The rule (``prune``, run in the same transaction as every rule change, under the shop's rule
lock): a version is deleted when it is not the shop's current one, AND it is older than
``RETENTION_DAYS`` or not among the newest ``KEEP_VERSIONS``, AND nothing still names it:

- no command was planned under it in the last ``IN_FLIGHT_HOURS`` (``mapper.rule_version_uses``,
  written by the mapper when it plans; longer than any queue, wait queue or retry takes, after
  which a command is done, set aside or a failed job);
- no open, queued or retrying failed job of the shop holds a message naming it;
- no command the writer set aside for the shop names it.

The last two are read (never written) from the replayer's and the writer's tables in the same
database, the only place the mapper looks into another service's tables. Where they cannot be
seen (another database), no version a command ever named is deleted: only versions no command
was planned under are pruned. A finished document's state keeps its version number either way.
"""

from __future__ import annotations

from typing import Any

from libs.common.logs import get_logger

log = get_logger(__name__)

KEEP_VERSIONS = 20
RETENTION_DAYS = 90
IN_FLIGHT_HOURS = 24
# Work elsewhere whose messages name a rule-set version: (table, condition on the shop's rows).
_REFERENCES = (
    ("replayer.failed_jobs", "shop = $1 AND status IN ('open', 'queued', 'retrying')"),
    ("fortnox_writer.deferred_commands", "shop = $1"),
)
_VERSION_IN_BODY = r'"rule_version":\s*([0-9]{1,9})[,}]'


async def record_use(conn: Any, shop: str, version: int) -> None:
    """A command was planned under ``version`` (kept while it may still be in flight)."""
    if version <= 0:
        return
    await conn.execute(
        """
        INSERT INTO mapper.rule_version_uses (shop, version, last_used_at) VALUES ($1, $2, now())
        ON CONFLICT (shop, version) DO UPDATE SET last_used_at = now()
        WHERE mapper.rule_version_uses.last_used_at < now() - interval '1 minute'
        """,
        shop,
        version,
    )


async def referenced_elsewhere(conn: Any, shop: str) -> set[int] | None:
    """Versions named by the shop's open failed jobs and set-aside commands; None when those
    tables cannot be seen from here."""
    found: set[int] = set()
    for table, where in _REFERENCES:
        if await conn.fetchval("SELECT to_regclass($1)", table) is None:
            return None
        rows = await conn.fetch(
            f"SELECT DISTINCT substring(encode(body, 'escape') FROM $2) AS version"
            f" FROM {table} WHERE {where}",
            shop,
            _VERSION_IN_BODY,
        )
        found.update(int(row["version"]) for row in rows if row["version"] is not None)
    return found


async def prune(
    conn: Any,
    shop: str,
    *,
    keep_versions: int = KEEP_VERSIONS,
    retention_days: int = RETENTION_DAYS,
    in_flight_hours: int = IN_FLIGHT_HOURS,
) -> list[int]:
    """Delete the shop's versions the rule above lets go; the versions deleted."""
    elsewhere = await referenced_elsewhere(conn, shop)
    rows = await conn.fetch(
        """
        WITH ranked AS (
            SELECT version, created_at,
                   row_number() OVER (ORDER BY version DESC) AS newest
            FROM mapper.rule_sets WHERE shop = $1
        )
        SELECT r.version FROM ranked r
        LEFT JOIN mapper.rule_version_uses u ON u.shop = $1 AND u.version = r.version
        WHERE r.newest > 1
          AND (r.newest > $2 OR r.created_at < now() - make_interval(days => $3))
          AND (u.last_used_at IS NULL
               OR (u.last_used_at < now() - make_interval(hours => $4) AND $5))
        """,
        shop,
        keep_versions,
        retention_days,
        in_flight_hours,
        elsewhere is not None,
    )
    doomed = sorted(row["version"] for row in rows if row["version"] not in (elsewhere or set()))
    if doomed:
        await conn.execute(
            "DELETE FROM mapper.rule_sets WHERE shop = $1 AND version = ANY($2::int[])",
            shop,
            doomed,
        )
        await conn.execute(
            "DELETE FROM mapper.rule_version_uses WHERE shop = $1 AND version = ANY($2::int[])",
            shop,
            doomed,
        )
        log.info("rule history pruned", shop=shop, versions=len(doomed))
    return doomed

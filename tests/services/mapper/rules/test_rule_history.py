"""Rule history is bounded (real PostgreSQL): a size cap per rule and per version, and old
versions pruned at each change, except those work still names (commands in flight, open
failed jobs, commands the writer set aside). Issue 12: 20 renames of one rule added 32 MB."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from libs.common import database
from services.fortnox_writer.service import definition as writer_definition
from services.mapper.rules import history
from services.mapper.rules.model import (
    MAX_RULE_BYTES,
    MAX_RULE_SET_BYTES,
    Rule,
    RuleValidationError,
    validate_rule,
)
from services.mapper.rules.store import RuleSetTooLarge, change_rules, rule_set_version
from services.replayer.service import definition as replayer_definition

# The largest rule the API takes: 14 header templates of 900 characters (about 13 KB).
FIELDS = ["Remarks", "Comments", "OurReference", "YourReference", "Phone1", "Phone2", "City"]
FIELDS += [
    "Address1",
    "Address2",
    "ZipCode",
    "Country",
    "DeliveryName",
    "DeliveryCity",
    "WayOfDelivery",
]
BIG_ACTIONS = {"fields": {f: "{{ name }}" + "x" * 890 for f in FIELDS}}


@pytest.fixture
async def pool(mapper_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """The mapper's schema and, for the references, the replayer's and the writer's."""
    for definition in (replayer_definition, writer_definition):
        assert definition.migrations is not None
        await database.migrate(mapper_pool, definition.name, definition.migrations)
    yield mapper_pool


def big_rule(rule_id: int, name: str) -> Rule:
    return Rule(id=rule_id, **validate_rule({"name": name, "actions": BIG_ACTIONS}).model_dump())


async def rename(pool: asyncpg.Pool, shop: str, name: str) -> int:
    def renamed(rules: list[Rule]) -> list[Rule]:
        return [big_rule(1, name)]

    return (await change_rules(pool, shop, renamed, description="update 1", actor="t")).version


async def kept(pool: asyncpg.Pool, shop: str) -> list[int]:
    rows = await pool.fetch(
        "SELECT version FROM mapper.rule_sets WHERE shop = $1 ORDER BY version", shop
    )
    return [row["version"] for row in rows]


async def stored_bytes(pool: asyncpg.Pool, shop: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT coalesce(sum(pg_column_size(rules)), 0) FROM mapper.rule_sets WHERE shop = $1",
            shop,
        )
    )


def test_a_rule_over_the_size_cap_is_refused_with_its_path() -> None:
    fields = {f: "{{ name }}" + "y" * 990 for f in [*FIELDS, "Project", "CostCenter", "PriceList"]}
    with pytest.raises(RuleValidationError) as caught:
        validate_rule({"name": "huge", "actions": {"fields": fields}})
    [(path, message)] = caught.value.problems
    assert path == "mapping_rule"
    assert f"a rule may take at most {MAX_RULE_BYTES:,}" in message
    assert len(json.dumps(BIG_ACTIONS)) < MAX_RULE_BYTES  # the big rule above fits


async def test_a_version_over_the_size_cap_is_refused_and_nothing_is_written(
    pool: asyncpg.Pool, shop: str
) -> None:
    count = MAX_RULE_SET_BYTES // len(json.dumps(BIG_ACTIONS)) + 1
    with pytest.raises(RuleSetTooLarge, match="a shop's rules may take at most"):
        await change_rules(
            pool,
            shop,
            lambda _: [big_rule(i + 1, f"r{i}") for i in range(count)],
            description="create",
            actor="t",
        )
    assert await kept(pool, shop) == []


async def test_renaming_a_rule_again_and_again_keeps_a_bounded_history(
    pool: asyncpg.Pool, shop: str
) -> None:
    for i in range(40):
        await rename(pool, shop, f"name {i}")
    assert await kept(pool, shop) == list(range(21, 41))  # the newest KEEP_VERSIONS
    assert await stored_bytes(pool, shop) < history.KEEP_VERSIONS * MAX_RULE_BYTES
    async with pool.acquire() as conn:
        current = await rule_set_version(conn, shop, 40)
        assert current is not None and current.rules[0].name == "name 39"
        assert await rule_set_version(conn, shop, 1) is None


async def failed_job(pool: asyncpg.Pool, shop: str, body: dict[str, Any], status: str) -> None:
    await pool.execute(
        """
        INSERT INTO replayer.failed_jobs (id, message_id, queue, shop, routing_key, headers, body,
            error_class, first_failed_at, last_failed_at, status)
        VALUES ($1, $2, 'q', $3, 'fortnox.command.create_document', '{}', $4, 'permanent',
            now(), now(), $5)
        """,
        uuid.uuid4(),
        uuid.uuid4().hex,
        shop,
        json.dumps(body).replace(": ", ":").encode(),
        status,
    )


async def set_aside(pool: asyncpg.Pool, shop: str, version: int) -> None:
    await pool.execute(
        """
        INSERT INTO fortnox_writer.deferred_commands
            (command_id, shop, document_key, routing_key, body, reason)
        VALUES ($1, $2, 'k', 'fortnox.command.create_document', $3, 'parked')
        """,
        uuid.uuid4().hex,
        shop,
        json.dumps({"shop": shop, "rule_version": version, "document": {}}).encode(),
    )


async def used(pool: asyncpg.Pool, shop: str, version: int, hours_ago: int) -> None:
    async with pool.acquire() as conn:
        await history.record_use(conn, shop, version)
    await pool.execute(
        "UPDATE mapper.rule_version_uses SET last_used_at = now() - make_interval(hours => $3)"
        " WHERE shop = $1 AND version = $2",
        shop,
        version,
        hours_ago,
    )


async def test_pruning_keeps_what_work_still_names_and_drops_the_rest(
    pool: asyncpg.Pool, shop: str
) -> None:
    for i in range(8):
        await rename(pool, shop, f"v{i + 1}")  # versions 1..8
    await used(pool, shop, 1, hours_ago=2)  # commands possibly still in flight
    await used(pool, shop, 2, hours_ago=48)  # long done ...
    await failed_job(pool, shop, {"shop": shop, "rule_version": 2}, "open")  # ... but failed
    await used(pool, shop, 3, hours_ago=48)
    await failed_job(pool, shop, {"shop": shop, "rule_version": 3}, "discarded")  # closed
    await used(pool, shop, 4, hours_ago=48)
    await set_aside(pool, shop, 4)  # parked in the writer
    await used(pool, shop, 5, hours_ago=48)  # done, nothing names it
    other = f"other-{shop}"
    await failed_job(pool, other, {"shop": other, "rule_version": 6}, "open")  # another shop's

    async with pool.acquire() as conn:
        dropped = await history.prune(conn, shop, keep_versions=2)
    assert dropped == [3, 5, 6]
    assert await kept(pool, shop) == [1, 2, 4, 7, 8]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM mapper.rule_version_uses WHERE shop = $1 AND version = ANY($2)",
            shop,
            [3, 5],
        )
        == 0
    )


async def test_old_versions_go_after_the_retention_period_and_the_current_one_never(
    pool: asyncpg.Pool, shop: str
) -> None:
    for i in range(3):
        await rename(pool, shop, f"v{i + 1}")
    await pool.execute(
        "UPDATE mapper.rule_sets SET created_at = now() - interval '100 days' WHERE shop = $1",
        shop,
    )
    async with pool.acquire() as conn:
        assert await history.prune(conn, shop, keep_versions=20, retention_days=90) == [1, 2]
        assert await history.prune(conn, shop, keep_versions=0, retention_days=0) == []
    assert await kept(pool, shop) == [3]


async def test_where_the_other_tables_cannot_be_seen_versions_commands_named_are_kept(
    pool: asyncpg.Pool, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "_REFERENCES", (("elsewhere.failed_jobs", "shop = $1"),))
    for i in range(4):
        await rename(pool, shop, f"v{i + 1}")
    await used(pool, shop, 1, hours_ago=1000)
    async with pool.acquire() as conn:
        assert await history.referenced_elsewhere(conn, shop) is None
        assert await history.prune(conn, shop, keep_versions=1) == [2, 3]
    assert await kept(pool, shop) == [1, 4]

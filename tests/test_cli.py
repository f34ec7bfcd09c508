"""The ``fortbridge`` command as scripts use it: ``--json`` output parses, exit codes as the README
documents (0 done, 1 the answer is no, 2 bad input, 3 a server unreachable), namespaces deleted.
Each command runs as a process, the way a script runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
from cryptography.fernet import Fernet

from fortbridge.cli import SERVICE_NAMES, _parser, ports_of
from libs.common import database
from libs.common.messaging import MAPPER_EVENTS, Topology
from libs.common.messaging.inspect import passive_stats

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def fortbridge(*args: str, **env: str) -> tuple[int, Any, str]:
    """Run the command; (exit code, stdout parsed as JSON when it is, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "fortbridge", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        out: Any = json.loads(done.stdout)
    except json.JSONDecodeError:
        out = done.stdout
    return done.returncode, out, done.stderr


@pytest.fixture
def env(database_url: str, amqp_url: str, namespace: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "AMQP_NAMESPACE": namespace,
        "AMQP_MANAGEMENT_URL": "",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LOG_LEVEL": "WARNING",
    }


def test_tokens_create_list_revoke_as_json(env: dict[str, str]) -> None:
    code, created, _ = fortbridge(
        "tokens", "create", "--shop", "cli.myshopify.com", "--scopes", "read_orders",
        "--label", "erp", "--json", **env,
    )  # fmt: skip
    assert code == 0
    assert created["token"].startswith("fbt_") and created["scopes"] == ["read_orders"]
    assert created["shop"] == "cli.myshopify.com" and created["label"] == "erp"

    code, listed, _ = fortbridge("tokens", "list", "--shop", "cli.myshopify.com", "--json", **env)
    assert code == 0
    [mine] = [t for t in listed["tokens"] if t["id"] == created["id"]]
    assert mine["revoked_at"] is None and created["token"].startswith(mine["prefix"])
    assert created["token"] not in json.dumps(listed)  # never the value again

    code, revoked, _ = fortbridge("tokens", "revoke", str(created["id"]), "--json", **env)
    assert (code, revoked) == (0, {"revoked": created["id"]})
    code, again, _ = fortbridge("tokens", "revoke", str(created["id"]), "--json", **env)
    assert code == 1 and "no active token" in again["error"]

    code, refused, _ = fortbridge(
        "tokens", "create", "--shop", "x", "--scopes", "read_everything", "--json", **env
    )
    assert code == 2 and "unknown scope" in refused["error"]


def test_tokens_create_without_json_prints_prose(env: dict[str, str]) -> None:
    code, text, _ = fortbridge(
        "tokens", "create", "--shop", "cli.myshopify.com", "--scopes", "read_orders", **env
    )
    assert code == 0 and text.splitlines()[1].startswith("fbt_")


def test_migrate_keys_and_errors_as_json(env: dict[str, str]) -> None:
    code, migrated, _ = fortbridge("migrate", "all", "--json", **env)
    assert code == 0 and set(migrated["applied"]) == {"shared", *SERVICE_NAMES}
    assert all(isinstance(v, list) for v in migrated["applied"].values())

    code, generated, _ = fortbridge("keys", "generate", "--json", **env)
    assert code == 0
    Fernet(generated["key"].encode())  # a usable key
    code, rotated, _ = fortbridge("keys", "rotate", "--json", **env)
    # Other tests' tokens in the shared database may be under keys this run does not hold.
    assert code == (1 if rotated["undecryptable"] else 0)
    assert isinstance(rotated["rewritten"], dict)

    unreachable = {**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/none"}
    code, failed, _ = fortbridge("quiet", "--json", **unreachable)
    assert code == 3 and "could not reach" in failed["error"]


@pytest.fixture
async def own_env(env: dict[str, str], database_url: str) -> AsyncIterator[dict[str, str]]:
    """``env`` with a database of this test's own, migrated: what ``quiet`` counts in the tables
    is this test's alone (other tests leave work in the run's shared database)."""
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/cli_quiet_{uuid.uuid4().hex[:8]}"))
    await database.ensure_database(url)
    own = {**env, "DATABASE_URL": url}
    code, _, err = fortbridge("migrate", "all", "--json", **own)
    assert code == 0, err
    yield own
    await database.drop_database(url)


async def test_quiet_and_namespace_delete_as_json(
    own_env: dict[str, str], amqp_url: str, namespace: str, broker_cleanup: Topology
) -> None:
    env = own_env
    topology = Topology(namespace=namespace, retry_delays=(0.2, 0.5))
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await topology.declare_on(connection)
        code, report, _ = fortbridge("quiet", "--json", **env)
        assert code == 0 and report["quiet"] is True and report["namespace"] == namespace
        assert report["unmeasured"]  # no management API given: unacked not measured, and said

        queue = topology.queue_name(MAPPER_EVENTS)
        channel = await connection.channel()
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=queue)
        code, report, _ = fortbridge("quiet", "--json", **env)
        assert code == 1 and report["quiet"] is False
        assert f"mapper: 1 messages ready in {queue}" in report["busy"]

        code, refused, _ = fortbridge("namespace", "delete", namespace, "--json", **env)
        assert code == 1 and [b["queue"] for b in refused["busy"]] == [queue]
        assert (await passive_stats(connection, [queue]))[queue].exists  # nothing deleted

        code, deleted, _ = fortbridge("namespace", "delete", namespace, "--force", "--json", **env)
        assert code == 0 and queue in deleted["queues"]
        assert topology.dead_letter_queue in deleted["queues"]
        assert sorted(deleted["exchanges"]) == [f"{namespace}.dlx", f"{namespace}.events"]
        names = [topology.queue_name(q) for q in topology.work_queues]
        gone = await passive_stats(connection, [*names, topology.dead_letter_queue])
        assert not any(stats.exists for stats in gone.values())
        code, nothing, _ = fortbridge("namespace", "delete", namespace, "--json", **env)
        assert code == 0 and nothing["queues"] == [] and nothing["exchanges"] == []


def test_run_ports_from_a_base_port_and_per_service() -> None:
    parser = _parser()
    ports = ports_of(parser.parse_args(["run", "all", "--base-port", "9100"]))
    assert ports == {
        "ingest": 9100,
        "mapper": 9101,
        "fortnox_writer": 9102,
        "timeline": 9103,
        "replayer": 9104,
    }
    args = parser.parse_args(["run", "all", "--base-port", "9100", "--port", "replayer=9200"])
    assert ports_of(args)["replayer"] == 9200 and ports_of(args)["ingest"] == 9100
    for bad in (["--port", "writer=1"], ["--port", "ingest=x"], ["--port", "ingest=70000"]):
        with pytest.raises(ValueError):
            ports_of(parser.parse_args(["run", "all", *bad]))
    with pytest.raises(ValueError, match="two services on one port"):
        ports_of(parser.parse_args(["run", "all", "--base-port", "9100", "--port", "mapper=9100"]))
    code, _, err = fortbridge("run", "all", "--port", "nope=1")
    assert code == 2 and "expected SERVICE=PORT" in err


async def test_billing_usage_of_a_shop_as_json_and_prose(
    env: dict[str, str], database_url: str
) -> None:
    shop = f"billing-{uuid.uuid4().hex[:8]}.myshopify.com"
    assert fortbridge("migrate", "all", "--json", **env)[0] == 0
    pool = await database.create_pool(database_url, max_size=1)
    try:
        await pool.execute(
            "INSERT INTO fortnox_writer.billing_charges (shop, order_id, document_key, kind,"
            " state, idempotency_key) VALUES ($1, '1', $2, 'trial', 'charged', $2)",
            shop,
            f"{shop}:order:1:invoice",
        )
    finally:
        await pool.close()
    code, report, _ = fortbridge("billing", "usage", "--shop", shop, "--json", **env)
    assert code == 0, report
    assert report["trial"] == {"credits": 15, "used": 1, "left": 14}
    assert report["subscription"]["status"] == "none" and report["waiting"]["count"] == 0
    code, text, _ = fortbridge("billing", "usage", "--shop", shop, **env)
    assert code == 0 and "trial credits: 1 of 15 used, 14 left" in text
    code, error, _ = fortbridge("billing", "usage", "--shop", "not a shop", "--json", **env)
    assert code == 2 and "shop domain" in error["error"]

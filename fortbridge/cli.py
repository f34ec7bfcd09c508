"""The ``fortbridge`` command: run services, connect shops, manage keys, run the demo.

Commands whose output a script needs take ``--json``; exit codes are in fortbridge/output.py
and the README ("The fortbridge command").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import structlog

from fortbridge import accounting, billing, ops, preflight, tokens
from fortbridge.output import NO, OK, UNAVAILABLE, USAGE, Output, json_flag
from libs.common import database
from libs.common.crypto import TokenCipher
from libs.common.logs import configure_logging
from libs.common.service import run_until_signalled
from libs.common.settings import Settings, get_settings
from libs.common.shared_schemas import migrate_shared
from libs.common.shops import ShopRegistry

SERVICE_NAMES = ("ingest", "mapper", "fortnox_writer", "timeline", "replayer")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fortbridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one service, or all five in one process")
    run.add_argument("service", help="ingest | mapper | fortnox_writer | timeline | replayer | all")
    run.add_argument(
        "--base-port",
        type=int,
        metavar="PORT",
        help="ports PORT.. PORT+4 in the order ingest, mapper, fortnox_writer, timeline, "
        "replayer (default: 8080..8084; HTTP_PORT for a lone service)",
    )
    run.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="SERVICE=PORT",
        help="one service's port (repeatable; wins over --base-port)",
    )

    migrate = commands.add_parser(
        "migrate", parents=[json_flag()], help="apply database migrations and exit"
    )
    migrate.add_argument("service", nargs="?", default="all")

    connect = commands.add_parser("connect", help="store a shop's Fortnox or Shopify access")
    targets = connect.add_subparsers(dest="target", required=True)
    fortnox = targets.add_parser(
        "fortnox", parents=[json_flag()], help="exchange a Fortnox authorization code"
    )
    fortnox.add_argument("--shop", required=True)
    fortnox.add_argument("--code", required=True)
    fortnox.add_argument("--redirect-uri", required=True)
    fortnox.add_argument(
        "--switch-company",
        action="store_true",
        help="allow replacing the Fortnox company the shop is connected to (audited; the "
        "shop's waiting syncs are held back until released)",
    )
    shopify = targets.add_parser(
        "shopify", parents=[json_flag()], help="store a shop's Admin API access token"
    )
    shopify.add_argument("--shop", required=True)
    shopify.add_argument("--access-token", required=True)

    keys = commands.add_parser("keys", parents=[json_flag()], help="token encryption keys")
    keys.add_argument(
        "action",
        choices=["generate", "rotate"],
        help="generate: print a new Fernet key; rotate: re-encrypt every stored token with the "
        "first key of TOKEN_ENCRYPTION_KEYS",
    )

    tokens.add_parser(commands)
    ops.add_parsers(commands)
    accounting.add_parsers(commands)
    preflight.add_parser(commands)
    billing.add_parser(commands)

    demo = commands.add_parser("demo", help="the whole stack with simulators, end to end")
    demo.add_argument("--orders", type=int, default=4)
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep the stack running and serve the app on one local origin (the gateway)",
    )
    demo.add_argument("--port", type=int, default=8000, help="the gateway's port (--serve)")
    return parser


def ports_of(args: argparse.Namespace) -> dict[str, int]:
    """``--base-port`` and ``--port SERVICE=PORT`` as a port per service (ValueError if bad)."""
    ports: dict[str, int] = {}
    if args.base_port is not None:
        ports = {name: args.base_port + i for i, name in enumerate(SERVICE_NAMES)}
    for item in args.port:
        name, _, port = item.partition("=")
        if name not in SERVICE_NAMES or not port.isdigit():
            raise ValueError(
                f"--port {item!r}: expected SERVICE=PORT, SERVICE one of {SERVICE_NAMES}"
            )
        ports[name] = int(port)
    if any(not 0 < port < 65536 for port in ports.values()):
        raise ValueError(f"ports must be between 1 and 65535: {ports}")
    if len(set(ports.values())) != len(ports):
        raise ValueError(f"two services on one port: {ports}")
    return ports


async def _migrate(settings: Settings, name: str) -> dict[str, list[Any]]:
    from fortbridge.registry import select

    applied: dict[str, list[Any]] = {}
    pool = await database.create_pool(settings.database_url)
    try:
        applied["shared"] = await migrate_shared(pool)
        for service in select(name):
            if service.migrations is not None:
                applied[service.name] = await database.migrate(
                    pool, service.name, service.migrations
                )
    finally:
        await pool.close()
    return applied


async def _connect(settings: Settings, args: argparse.Namespace, out: Output) -> int:
    from services.fortnox_writer.connections import ConnectionStore, TokenEndpointError
    from services.fortnox_writer.switching import ConnectRefused, connect_with_code

    cipher = TokenCipher(settings.token_encryption_keys.get_secret_value())
    await _migrate(settings, "fortnox_writer" if args.target == "fortnox" else "timeline")
    pool = await database.create_pool(settings.database_url)
    try:
        if args.target == "shopify":
            await migrate_shared(pool)
            await ShopRegistry(pool, cipher).install(args.shop, args.access_token)
            out.result(
                {"shop": args.shop, "stored": "shopify_access_token"},
                f"stored the Shopify access token of {args.shop}",
            )
            return OK
        async with aiohttp.ClientSession() as http:
            store = ConnectionStore(pool, cipher, http, settings)
            try:
                tenant = await connect_with_code(
                    store,
                    http,
                    settings,
                    shop=args.shop,
                    code=args.code,
                    redirect_uri=args.redirect_uri,
                    switch_company=args.switch_company,
                    actor="cli",
                )
            except ConnectRefused as exc:
                return out.error(
                    f"not connected: {exc.message}", NO, shop=args.shop, reason=exc.code
                )
            except TokenEndpointError as exc:
                return out.error(f"Fortnox refused the code: {exc}", UNAVAILABLE, shop=args.shop)
        out.result(
            {"shop": args.shop, "tenant_id": tenant},
            f"connected {args.shop} to Fortnox tenant {tenant}",
        )
        return OK
    finally:
        await pool.close()


async def _rotate_keys(settings: Settings, out: Output) -> int:
    from services.fortnox_writer.keyrotation import rotate_tokens

    cipher = TokenCipher(settings.token_encryption_keys.get_secret_value())
    pool = await database.create_pool(settings.database_url)
    try:
        report = await rotate_tokens(pool, cipher)
    finally:
        await pool.close()
    lines = [
        f"{table}: re-encrypted {n} tokens with the first key"
        for table, n in report.rewritten.items()
    ]
    out.result(
        {"rewritten": report.rewritten, "undecryptable": report.undecryptable},
        lines,
    )
    for table, keys in report.undecryptable.items():
        if not out.as_json:
            print(
                f"{table}: {len(keys)} tokens no configured key decrypts (keep the old key): "
                + ", ".join(keys[:20]),
                file=sys.stderr,
            )
    return NO if report.undecryptable else OK


async def _command(settings: Settings, args: argparse.Namespace, out: Output) -> int:
    if args.command == "migrate":
        applied = await _migrate(settings, args.service)
        out.result(
            {"applied": applied},
            [f"{name}: applied {versions or 'nothing new'}" for name, versions in applied.items()],
        )
        return OK
    if args.command == "connect":
        return await _connect(settings, args, out)
    if args.command == "keys" and args.action == "rotate":
        return await _rotate_keys(settings, out)
    if args.command == "keys":
        key = TokenCipher.generate_key()
        out.result({"key": key}, key)
        return OK
    if args.command == "tokens":
        return await tokens.run(settings, args)
    if args.command == "quiet":
        return await ops.quiet(settings, args)
    if args.command == "namespace":
        return await ops.delete(settings, args)
    if args.command in ("backfill", "report"):
        return await accounting.run(args)
    if args.command == "preflight":
        return await preflight.run(settings, args)
    if args.command == "billing":
        return await billing.run(settings, args)
    raise AssertionError(f"unhandled command {args.command}")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = get_settings()
    if args.command == "run":
        from fortbridge.registry import select

        try:
            ports = ports_of(args)
        except ValueError as exc:
            sys.exit(Output(False).error(str(exc), USAGE))
        asyncio.run(run_until_signalled(select(args.service), settings, ports=ports or None))
        return
    if args.command == "demo":
        from fortbridge.demo import run_demo

        sys.exit(asyncio.run(run_demo(orders=args.orders, serve=args.serve, port=args.port)))
    if not structlog.is_configured():  # a process of its own (not a test calling main)
        # Logs to stderr: stdout holds only the command's result.
        configure_logging("fortbridge", settings.log_level, stream=sys.__stderr__ or sys.stderr)
    out = Output(getattr(args, "json", False))
    try:
        code = asyncio.run(_command(settings, args, out))
    except (OSError, asyncpg.PostgresError, aio_pika.exceptions.AMQPError) as exc:
        code = out.error(
            f"could not reach a server it needs: {type(exc).__name__}: {exc}", UNAVAILABLE
        )
    sys.exit(code)


if __name__ == "__main__":
    main()
